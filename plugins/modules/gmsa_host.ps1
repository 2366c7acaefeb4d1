#!powershell
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative
#AnsibleRequires -PowerShell ansible_collections.gmsa.farm.plugins.module_utils.GmsaHost

$spec = @{
    options = @{
        name = @{ type = 'str'; required = $true }
        state = @{ type = 'str'; choices = 'present', 'absent'; default = 'present' }
        refresh_tickets = @{ type = 'str'; choices = 'auto', 'always', 'never'; default = 'auto' }
        force_offline = @{ type = 'bool'; default = $false }
        kdssvc_network_trigger = @{ type = 'bool'; default = $false }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$state = $module.Params.state
$refresh = $module.Params.refresh_tickets

$Native = [ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative.ServiceAccounts]

try {
    $account = ConvertTo-GmsaAccountName -Name $module.Params.name
}
catch {
    $module.FailJson("name: $($_.Exception.Message)")
}
$module.Result.name = $account
$module.Result.tickets_purged = $false

Function Get-State {
    try {
        return [int]$Native::Query($account)
    }
    catch [ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative.NativeError] {
        $module.FailJson("Could not query the managed service account '$account': $($_.Exception.Message)", $_)
    }
}

Function Invoke-TicketPurge {
    # The computer's own Kerberos tickets (logon session 0x3e7, LocalSystem) still carry its old group list.
    if (-not $module.CheckMode) {
        $out = & "$env:SystemRoot\System32\klist.exe" -li 0x3e7 purge 2>&1
        if ($LASTEXITCODE -ne 0) {
            $module.FailJson("klist -li 0x3e7 purge failed ($LASTEXITCODE): $out")
        }
    }
    $module.Result.tickets_purged = $true
}

$current = Get-State
$module.Diff.before = @{ name = $account; state = (Get-GmsaStateName -State $current) }
$purged = $false

for ($round = 0; $round -lt 3; $round++) {
    $decision = Get-GmsaHostAction -Want $state -State $current -RefreshTickets $refresh -Purged $purged
    switch ($decision.Action) {
        'none' { break }
        'purge' {
            Invoke-TicketPurge
            $purged = $true
            if (-not $module.CheckMode) { $current = Get-State }
            elseif ($current -ne 5) { $current = 4 }  # check mode: assume the refreshed tickets let it install
            continue
        }
        'install' {
            if (-not $module.CheckMode) {
                try {
                    $Native::Install($account)
                }
                catch [ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative.NativeError] {
                    $module.FailJson("Could not install '$account' on this host: $($_.Exception.Message)", $_)
                }
                $current = Get-State
                if ($current -ne 5) {
                    $module.FailJson("Installed '$account' but the test still reports $(Get-GmsaStateName -State $current)")
                }
            }
            else {
                $current = 5
            }
            $module.Result.changed = $true
            break
        }
        'uninstall' {
            if (-not $module.CheckMode) {
                try {
                    $Native::Uninstall($account, [bool]$module.Params.force_offline)
                }
                catch [ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative.NativeError] {
                    $hint = if (-not $module.Params.force_offline) { ' When no domain controller answers, use force_offline=true.' } else { '' }
                    $module.FailJson("Could not uninstall '$account': $($_.Exception.Message).$hint", $_)
                }
                $current = Get-State
            }
            else {
                $current = 4
            }
            $module.Result.changed = $true
            break
        }
        'fail' {
            $module.Result.state = Get-GmsaStateName -State $current
            $module.FailJson("'$account': $($decision.Reason)")
        }
    }
    if ($decision.Action -ne 'purge') { break }
}

if ($module.Params.kdssvc_network_trigger) {
    # Windows Server 2012 R2: services under managed accounts may hang at boot because KdsSvc is trigger-started.
    $triggers = & "$env:SystemRoot\System32\sc.exe" qtriggerinfo kdssvc 2>&1 | Out-String
    if ($triggers -notmatch 'NETWORK') {
        if (-not $module.CheckMode) {
            $out = & "$env:SystemRoot\System32\sc.exe" triggerinfo kdssvc start/networkon 2>&1
            if ($LASTEXITCODE -ne 0) { $module.FailJson("sc.exe triggerinfo kdssvc start/networkon failed: $out") }
        }
        $module.Result.changed = $true
        $module.Result.kdssvc_trigger_set = $true
    }
}

$module.Result.state = Get-GmsaStateName -State $current
$module.Diff.after = @{ name = $account; state = $module.Result.state }
$module.ExitJson()
