#!powershell
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative
#AnsibleRequires -PowerShell ansible_collections.gmsa.farm.plugins.module_utils.GmsaHost

$spec = @{
    options = @{
        type = @{ type = 'str'; choices = 'service', 'iis_app_pool', 'scheduled_task'; default = 'service' }
        name = @{ type = 'str'; required = $true }
        account = @{ type = 'str'; required = $true }
        grant_logon_right = @{ type = 'bool'; default = $true }
        restart = @{ type = 'str'; choices = 'changed', 'always', 'never'; default = 'changed' }
        validate = @{ type = 'bool'; default = $true }
        validate_timeout = @{ type = 'int'; default = 60 }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$type = $module.Params.type
$name = $module.Params.name
$Rights = [ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative.AccountRights]
$Services = [ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative.Services]

# ---------------------------------------------------------------- the account
try {
    $wanted = Resolve-ServiceIdentity -Account $module.Params.account -NetbiosDomain $env:USERDOMAIN
}
catch {
    $module.FailJson("account: $($_.Exception.Message)")
}
$sid = $null
if ($wanted.Kind -eq 'gmsa') {
    try {
        $sid = ([System.Security.Principal.NTAccount]$wanted.Name).Translate([System.Security.Principal.SecurityIdentifier])
        $wanted.Name = $sid.Translate([System.Security.Principal.NTAccount]).Value
    }
    catch {
        $module.FailJson("account: '$($wanted.Name)' does not resolve on this host: $($_.Exception.Message). " +
            'Create it with gmsa.farm.gmsa and install it with gmsa.farm.gmsa_host first.')
    }
}

# ---------------------------------------------------------------- target adapters (the only I/O)
Function Get-CurrentIdentity {
    switch ($type) {
        'service' {
            $svc = Get-CimInstance -ClassName Win32_Service -Filter "Name='$($name -replace "'", "''")'"
            if (-not $svc) { $module.FailJson("service '$name' does not exist") }
            return $svc.StartName
        }
        'iis_app_pool' {
            Import-Module WebAdministration -ErrorAction Stop
            $path = "IIS:\AppPools\$name"
            if (-not (Test-Path -LiteralPath $path)) { $module.FailJson("IIS application pool '$name' does not exist") }
            $pm = Get-ItemProperty -LiteralPath $path -Name processModel
            if ([string]$pm.identityType -eq 'SpecificUser') { return $pm.userName }
            return [string]$pm.identityType
        }
        'scheduled_task' {
            $task = Get-ScheduledTask -TaskName $name -ErrorAction SilentlyContinue
            if (-not $task) { $module.FailJson("scheduled task '$name' does not exist") }
            return $task.Principal.UserId
        }
    }
}

Function Set-Identity([string]$Account) {
    $identity = Resolve-ServiceIdentity -Account $Account -NetbiosDomain $env:USERDOMAIN
    switch ($type) {
        'service' {
            # No password: gMSA, virtual and built-in accounts have none (an empty string clears any old one).
            $Services::SetLogon($name, $identity.Name, '')
        }
        'iis_app_pool' {
            $path = "IIS:\AppPools\$name"
            if ($identity.Kind -eq 'builtin') {
                $kind = switch ($identity.Name) {
                    'LocalSystem' { 'LocalSystem' }
                    'NT AUTHORITY\LocalService' { 'LocalService' }
                    'NT AUTHORITY\NetworkService' { 'NetworkService' }
                    default { 'ApplicationPoolIdentity' }
                }
                Set-ItemProperty -LiteralPath $path -Name processModel.identityType -Value $kind
            }
            else {
                Set-ItemProperty -LiteralPath $path -Name processModel -Value @{
                    identityType = 'SpecificUser'; userName = $identity.Name; password = ''
                }
            }
        }
        'scheduled_task' {
            if ($identity.Kind -eq 'gmsa') {
                $principal = New-ScheduledTaskPrincipal -UserId $identity.Name -LogonType Password
            }
            else {
                $principal = New-ScheduledTaskPrincipal -UserId $identity.Name -LogonType ServiceAccount
            }
            $null = Set-ScheduledTask -TaskName $name -Principal $principal
        }
    }
}

Function Restart-Target {
    switch ($type) {
        'service' {
            $svc = Get-Service -Name $name
            if ($svc.Status -eq 'Running') { Restart-Service -Name $name -Force -ErrorAction Stop }
            else { Start-Service -Name $name -ErrorAction Stop }
        }
        'iis_app_pool' {
            if ((Get-WebAppPoolState -Name $name).Value -eq 'Started') { Restart-WebAppPool -Name $name }
            else { Start-WebAppPool -Name $name }
        }
    }
}

Function Wait-Running([int]$Timeout) {
    $deadline = [DateTime]::UtcNow.AddSeconds($Timeout)
    do {
        $ok = switch ($type) {
            'service' { (Get-Service -Name $name).Status -eq 'Running' }
            'iis_app_pool' { (Get-WebAppPoolState -Name $name).Value -eq 'Started' }
            'scheduled_task' { $true }
        }
        if ($ok) { return $null }
        Start-Sleep -Milliseconds 500
    } while ([DateTime]::UtcNow -lt $deadline)
    if ($type -eq 'service') {
        $svc = Get-CimInstance -ClassName Win32_Service -Filter "Name='$($name -replace "'", "''")'"
        return "the service did not reach Running within $Timeout s (state $($svc.State), Win32 exit code $($svc.ExitCode))"
    }
    return "the application pool did not start within $Timeout s"
}

# ---------------------------------------------------------------- decide and act
$previous = Get-CurrentIdentity
$module.Result.previous_account = $previous
$module.Result.account = $wanted.Name
$module.Result.restarted = $false
$module.Result.logon_right_granted = $false
$module.Diff.before = @{ account = $previous }
$module.Diff.after = @{ account = $wanted.Name }
$changed = -not (Test-SameAccount -Left $previous -Right $wanted.Name)

$right = Get-LogonRight -Type $type
if ($module.Params.grant_logon_right -and $right -and $sid) {
    $held = $Rights::Get($sid.Value)
    if ($held -notcontains $right) {
        if (-not $module.CheckMode) { $Rights::Add($sid.Value, $right) }
        $module.Result.logon_right_granted = $true
        $module.Result.changed = $true
    }
}

if ($changed) {
    if (-not $module.CheckMode) {
        try {
            Set-Identity -Account $wanted.Name
        }
        catch {
            $module.FailJson("Could not set the identity of $type '$name' to '$($wanted.Name)': $($_.Exception.Message)", $_)
        }
    }
    $module.Result.changed = $true
}

$problem = $null
if (Test-RestartNeeded -Restart $module.Params.restart -Changed $changed -Type $type) {
    if (-not $module.CheckMode) {
        try {
            Restart-Target
        }
        catch {
            # e.g. 1069 (ERROR_SERVICE_LOGON_FAILED) when the account lacks the logon right or the password
            $problem = "start failed: $($_.Exception.Message)"
            $inner = $_.Exception.InnerException
            if ($inner -and $inner.PSObject.Properties['NativeErrorCode']) { $problem += " (Windows error $($inner.NativeErrorCode))" }
        }
        if (-not $problem -and $module.Params.validate) { $problem = Wait-Running -Timeout $module.Params.validate_timeout }
    }
    $module.Result.restarted = $true
    $module.Result.changed = $true
}

if ($problem) {
    $rolled = $false
    if ($changed -and (Test-RollbackPossible -PreviousAccount $previous -NetbiosDomain $env:USERDOMAIN)) {
        try {
            Set-Identity -Account $previous
            Restart-Target
            $rolled = $true
        }
        catch {
            $problem += "; putting '$previous' back also failed: $($_.Exception.Message)"
        }
    }
    $tail = if ($rolled) { " The previous identity '$previous' was put back and the target started again." }
    elseif ($changed) { " The previous identity '$previous' needs a password or is unknown, so it was not put back." }
    else { '' }
    $module.Result.state = 'failed'
    $module.FailJson("$type '$name' under '$($wanted.Name)': $problem.$tail")
}

$module.Result.state = switch ($type) {
    'service' { if ($module.CheckMode) { 'unknown' } else { [string](Get-Service -Name $name).Status } }
    'iis_app_pool' { if ($module.CheckMode) { 'unknown' } else { [string](Get-WebAppPoolState -Name $name).Value } }
    'scheduled_task' { [string](Get-ScheduledTask -TaskName $name).State }
}
$module.ExitJson()
