#!powershell
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative
#AnsibleRequires -CSharpUtil ansible_collections.ansible.windows.plugins.module_utils.SCManager
#Requires -Module Ansible.ModuleUtils.CommandUtil

# The host-side primitive of gmsa.farm.gmsa_host and gmsa.farm.windows_service_identity: one operation per run,
# a fixed sequence of Windows calls, reporting what Windows answered. What to change, in which order, and what to
# undo after a failure is decided by the action plugins (plugins/plugin_utils), not here.

$spec = @{
    options = @{
        operation = @{ type = 'str'; required = $true; choices = 'probe', 'add', 'remove', 'purge_tickets', 'kdssvc_add_network_trigger', 'facts', 'iis_worker_probe', 'iis_set_pool_user', 'biztalk_read', 'biztalk_install', 'biztalk_start', 'biztalk_stop', 'sql_read', 'sql_set_service_account' }
        name = @{ type = 'str' }
        remove_flags = @{ type = 'int'; default = 1 }
        account = @{ type = 'str' }
        rights = @{ type = 'list'; elements = 'str' }
        timeout = @{ type = 'int'; default = 60 }
        is_gmsa = @{ type = 'bool'; default = $true }
        password = @{ type = 'str'; no_log = $true }
    }
    required_if = @(
        , @('operation', 'probe', @('name'))
        , @('operation', 'add', @('name'))
        , @('operation', 'remove', @('name'))
        , @('operation', 'iis_worker_probe', @('name'))
        , @('operation', 'iis_set_pool_user', @('name', 'account', 'password'))
        , @('operation', 'sql_read', @('name'))
        , @('operation', 'sql_set_service_account', @('name', 'account'))
        , @('operation', 'biztalk_read', @('name'))
        , @('operation', 'biztalk_install', @('name', 'account'))
        , @('operation', 'biztalk_start', @('name'))
        , @('operation', 'biztalk_stop', @('name'))
    )
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$op = $module.Params.operation
$name = $module.Params.name
$Native = [ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative.ServiceAccounts]

Function Add-JoinFact {
    $join = $Native::Join()
    $cs = Get-CimInstance -ClassName Win32_ComputerSystem
    $module.Result.joined = [bool]$cs.PartOfDomain -and $join.Status -eq 0 -and $join.JoinStatus -eq 3
    $module.Result.domain_netbios = $join.Name
    $module.Result.domain_dns = if ($cs.PartOfDomain) { $cs.Domain } else { $null }
}

switch ($op) {
    'probe' {
        Add-JoinFact
        $p = $Native::Probe($name)
        $module.Result.query_status = $p.QueryStatus
        $module.Result.query_state = $p.QueryState
        $module.Result.is_service_account_status = $p.IsServiceStatus
        $module.Result.is_service_account = $p.IsService
        $module.Result.os_version = [Environment]::OSVersion.Version.ToString()
    }
    'add' {
        $module.Result.status = if ($module.CheckMode) { 0 } else { $Native::Add($name) }
        $module.Result.changed = $module.Result.status -eq 0
    }
    'remove' {
        if ($module.Params.remove_flags -notin 1, 2) { $module.FailJson("remove_flags: $($module.Params.remove_flags) is not 1 or 2") }
        $module.Result.status = if ($module.CheckMode) { 0 } else { $Native::Remove($name, [uint32]$module.Params.remove_flags) }
        $module.Result.changed = $module.Result.status -eq 0
    }
    'purge_tickets' {
        # The computer's own tickets: logon session 0x3e7 (LocalSystem). Run-Command captures stderr, so a
        # line on stderr does not throw under Windows PowerShell 5.1's ErrorActionPreference Stop.
        if ($module.CheckMode) { $module.Result.rc = 0; $module.Result.output = '' }
        else {
            $res = Run-Command -Command "`"$env:SystemRoot\System32\klist.exe`" -li 0x3e7 purge"
            $module.Result.rc = $res.rc
            $module.Result.output = ($res.stdout + $res.stderr).Trim()
        }
    }
    'kdssvc_add_network_trigger' {
        # Appends "start on first IP address arrival" to the triggers KdsSvc has (sc triggerinfo would replace them).
        $svc = New-Object -TypeName Ansible.Windows.SCManager.Service -ArgumentList 'KdsSvc'
        $triggers = $svc.Triggers
        $trigger = New-Object -TypeName Ansible.Windows.SCManager.Trigger
        $trigger.Type = [Ansible.Windows.SCManager.TriggerType]::IpAddressAvailability
        $trigger.Action = [Ansible.Windows.SCManager.TriggerAction]::ServiceStart
        $trigger.SubType = [Guid][Ansible.Windows.SCManager.Trigger]::NETWORK_MANAGER_FIRST_IP_ADDRESS_ARRIVAL_GUID
        $triggers.Add($trigger)
        if (-not $module.CheckMode) { $svc.Triggers = $triggers }
        $module.Result.trigger_count = $triggers.Count
        $module.Result.changed = $true
    }
    'facts' {
        Add-JoinFact
        $account = $module.Params.account
        if ($account) {
            if (-not $account.Contains('\') -and -not $account.Contains('@') -and $account.EndsWith('$') -and $module.Result.domain_netbios) {
                $account = "$($module.Result.domain_netbios)\$account"
            }
            try {
                $sid = ([System.Security.Principal.NTAccount]$account).Translate([System.Security.Principal.SecurityIdentifier]).Value
                $module.Result.account_sid = $sid
                $rights = New-Object -TypeName 'System.Collections.Generic.List[string]'
                $module.Result.account_rights_status = [ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative.AccountRights]::Get($sid, $rights)
                $module.Result.account_rights = @($rights)
            }
            catch {
                $module.Result.account_sid = $null
                $module.Result.account_error = $_.Exception.Message
            }
        }
        # Rights that Group Policy defines on this computer: the winning (precedence 1) RSoP entries.
        $policy = @{}
        if ($module.Params.rights -and $module.Params.rights.Count -gt 0) {
            $rsop = @(Get-CimInstance -Namespace root\rsop\computer -ClassName RSOP_UserPrivilegeRight -Filter 'precedence=1' -ErrorAction SilentlyContinue)
            foreach ($right in $module.Params.rights) {
                $entry = $rsop | Where-Object { $_.UserRight -eq $right } | Select-Object -First 1
                if ($entry) {
                    $gpo = Get-CimInstance -Namespace root\rsop\computer -ClassName RSOP_GPO -Filter "id='$($entry.GPOID)'" -ErrorAction SilentlyContinue
                    $policy[$right] = @{ accounts = @($entry.AccountList); gpo = if ($gpo) { $gpo.name } else { $entry.GPOID } }
                }
            }
        }
        $module.Result.policy_rights = $policy
    }
    'iis_worker_probe' {
        # A pool reports Started at once; the identity logs on only when WAS starts a worker process. startMode
        # AlwaysRunning makes WAS start one with the pool; it is put back afterwards.
        Import-Module -Name WebAdministration
        $path = "IIS:\AppPools\$name"
        $mode = [string](Get-ItemProperty -LiteralPath $path -Name startMode)
        $module.Result.worker_started = $false
        $module.Result.worker_user = $null
        try {
            if ($mode -ne 'AlwaysRunning') { Set-ItemProperty -LiteralPath $path -Name startMode -Value 'AlwaysRunning' }
            if ((Get-WebAppPoolState -Name $name).Value -eq 'Started') { Restart-WebAppPool -Name $name } else { Start-WebAppPool -Name $name }
            $deadline = [DateTime]::UtcNow.AddSeconds($module.Params.timeout)
            do {
                Start-Sleep -Milliseconds 500
                $state = [string](Get-WebAppPoolState -Name $name).Value
                $wp = @(Get-ChildItem -LiteralPath "$path\WorkerProcesses" -ErrorAction SilentlyContinue) | Select-Object -First 1
                if ($wp) {
                    $proc = Get-CimInstance -ClassName Win32_Process -Filter "ProcessId=$($wp.processId)"
                    $owner = if ($proc) { Invoke-CimMethod -InputObject $proc -MethodName GetOwner } else { $null }
                    $module.Result.worker_started = $true
                    if ($owner -and $owner.User) { $module.Result.worker_user = "$($owner.Domain)\$($owner.User)" }
                    break
                }
            } while ($state -ne 'Stopped' -and [DateTime]::UtcNow -lt $deadline)
        }
        catch {
            $module.Result.error = $_.Exception.Message
        }
        finally {
            if ($mode -ne 'AlwaysRunning') { Set-ItemProperty -LiteralPath $path -Name startMode -Value $mode }
        }
        $module.Result.pool_state = [string](Get-WebAppPoolState -Name $name).Value
    }
    'iis_set_pool_user' {
        # A pool back under a user account with its password: web_app_pool would log the password with its
        # attributes, this option is no_log.
        Import-Module -Name WebAdministration
        $path = "IIS:\AppPools\$name"
        if (-not (Test-Path -LiteralPath $path)) { $module.FailJson("application pool '$name' does not exist") }
        if (-not $module.CheckMode) {
            Set-ItemProperty -LiteralPath $path -Name processModel -Value @{
                identityType = 'SpecificUser'; userName = $module.Params.account; password = $module.Params.password }
        }
        $module.Result.changed = $true
    }
    { $_ -like 'sql_*' } {
        # SQL Server's WMI provider (SqlService in root\Microsoft\SqlServer\ComputerManagement<n>, the newest
        # installed; n is the SQL Server major version): sql_read reports the namespace and the service's
        # SqlServiceType; SetServiceAccount also gives the account the permissions the service needs.
        # No SQL Server: no such namespace (a CIM error, reported as no provider).
        $ns = @(Get-CimInstance -Namespace root\Microsoft\SqlServer -ClassName __NAMESPACE -ErrorAction SilentlyContinue |
                Where-Object { $_.Name -match '^ComputerManagement\d+$' } |
                Sort-Object -Property { [int]($_.Name -replace '\D', '') } -Descending | Select-Object -First 1)
        $svc = $null
        if ($ns) {
            $module.Result.namespace = "root\Microsoft\SqlServer\$($ns[0].Name)"
            $module.Result.provider_version = [int]($ns[0].Name -replace '\D', '')
            $svc = Get-CimInstance -Namespace $module.Result.namespace -ClassName SqlService -Filter "ServiceName='$($name -replace "'", "''")'" -ErrorAction Stop
        }
        if ($op -eq 'sql_read') {
            $module.Result.exists = [bool]$svc
            if ($svc) { $module.Result.sql_service_type = [int]$svc.SQLServiceType }
        }
        elseif (-not $svc) { $module.FailJson("SQL Server service '$name' is not known to SQL Server's WMI provider on $env:COMPUTERNAME") }
        elseif ($module.CheckMode) { $module.Result.return_value = 0 }
        else {
            try {
                $module.Result.return_value = [int](Invoke-CimMethod -InputObject $svc -MethodName SetServiceAccount -ErrorAction Stop -Arguments @{
                        ServiceStartName = $module.Params.account; ServiceStartPassword = [string]$module.Params.password }).ReturnValue
            }
            catch { $module.Result.return_value = -1; $module.Result.error = $_.Exception.Message }
            $module.Result.changed = $module.Result.return_value -eq 0
        }
    }
    { $_ -like 'biztalk_*' } {
        # The host instance of BizTalk host $name on this server (WMI MSBTS_HostInstance). CIM errors are made
        # terminating and every method's ReturnValue is reported.
        $filter = "RunningServer='$($env:COMPUTERNAME -replace "'", "''")' AND HostName='$($name -replace "'", "''")'"
        $hi = Get-CimInstance -Namespace root\MicrosoftBizTalkServer -ClassName MSBTS_HostInstance -Filter $filter -ErrorAction Stop
        if ($op -eq 'biztalk_read') {
            $module.Result.exists = [bool]$hi
            if ($hi) { $module.Result.logon = $hi.Logon; $module.Result.service_state = [int]$hi.ServiceState }
            # IsGmsaAccount exists on gMSA-capable BizTalk Server versions only
            $install = (Get-CimClass -Namespace root\MicrosoftBizTalkServer -ClassName MSBTS_HostInstance).CimClassMethods['Install']
            $module.Result.supports_gmsa = [bool]($install -and ($install.Parameters.Name -contains 'IsGmsaAccount'))
        }
        elseif (-not $hi) { $module.FailJson("BizTalk host '$name' has no host instance on $env:COMPUTERNAME") }
        elseif ($module.CheckMode) { $module.Result.changed = $true }
        elseif ($op -eq 'biztalk_install') {
            try {
                $module.Result.uninstall_return = [int](Invoke-CimMethod -InputObject $hi -MethodName Uninstall -ErrorAction Stop).ReturnValue
            }
            catch { $module.Result.uninstall_return = -1; $module.Result.error = $_.Exception.Message }
            if ($module.Result.uninstall_return -eq 0) {
                $password = if ($null -ne $module.Params.password) { $module.Params.password } else { '' }
                $arguments = @{ Logon = $module.Params.account; Password = $password; GrantLogOnAsService = $true }
                if ($module.Params.is_gmsa) { $arguments.IsGmsaAccount = $true }
                try {
                    $module.Result.install_return = [int](Invoke-CimMethod -InputObject $hi -MethodName Install -ErrorAction Stop -Arguments $arguments).ReturnValue
                }
                catch { $module.Result.install_return = -1; $module.Result.error = $_.Exception.Message }
                $module.Result.changed = $true
            }
        }
        else {
            $method = if ($op -eq 'biztalk_start') { 'Start' } else { 'Stop' }
            try { $module.Result.return_value = [int](Invoke-CimMethod -InputObject $hi -MethodName $method -ErrorAction Stop).ReturnValue }
            catch { $module.Result.return_value = -1; $module.Result.error = $_.Exception.Message }
            $module.Result.changed = $true
        }
    }
}
$module.ExitJson()
