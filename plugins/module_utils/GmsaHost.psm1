# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Decision logic of the gmsa.farm Windows modules, loaded with
#   #AnsibleRequires -PowerShell ansible_collections.gmsa.farm.plugins.module_utils.GmsaHost
# PRIVATE to the collection. Pure functions (no system calls): the modules do the I/O, these decide. They are
# unit-tested with Pester (tests/windows/pester/GmsaHost.Tests.ps1) on Windows PowerShell 5.1 and PowerShell 7.

Set-StrictMode -Version 2.0

$script:MsaStateNames = @{
    0 = 'Unknown'
    1 = 'NotExist'
    2 = 'NotService'
    3 = 'CannotInstall'
    4 = 'CanInstall'
    5 = 'Installed'
}

Function Get-GmsaStateName {
    <# NetQueryServiceAccount's MSA_INFO_STATE as a name. #>
    [OutputType([string])]
    param([Parameter(Mandatory)][int]$State)
    if ($script:MsaStateNames.ContainsKey($State)) { return $script:MsaStateNames[$State] }
    return "Unknown($State)"
}

Function ConvertTo-GmsaAccountName {
    <#
    .SYNOPSIS
    'name', 'name$', 'DOMAIN\name$' or 'name$@dns.domain' -> 'name' (what the Net*ServiceAccount APIs take).
    #>
    [OutputType([string])]
    param([Parameter(Mandatory)][string]$Name)
    $n = $Name.Trim()
    if ($n.Contains('\')) { $n = $n.Substring($n.IndexOf('\') + 1) }
    if ($n.Contains('@')) { $n = $n.Substring(0, $n.IndexOf('@')) }
    if ($n.EndsWith('$')) { $n = $n.Substring(0, $n.Length - 1) }
    if (-not $n) { throw "'$Name' does not name a managed service account" }
    if ($n.Length -gt 15) {
        throw "'$Name': managed service account names are at most 15 characters before the trailing `$"
    }
    return $n
}

Function Get-GmsaHostAction {
    <#
    .SYNOPSIS
    What gmsa_host does next, from the wanted state, the account's current state, the ticket policy and
    whether tickets were already purged in this run.

    .OUTPUTS
    One of: 'none', 'install', 'uninstall', 'purge', or 'fail' (with a reason).
    #>
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)][ValidateSet('present', 'absent')][string]$Want,
        [Parameter(Mandatory)][int]$State,
        [Parameter(Mandatory)][ValidateSet('auto', 'always', 'never')][string]$RefreshTickets,
        [bool]$Purged = $false
    )
    $name = Get-GmsaStateName -State $State
    if ($Want -eq 'absent') {
        if ($State -eq 5) { return @{ Action = 'uninstall' } }
        return @{ Action = 'none' }
    }
    if ($RefreshTickets -eq 'always' -and -not $Purged) { return @{ Action = 'purge' } }
    switch ($State) {
        5 { return @{ Action = 'none' } }
        4 { return @{ Action = 'install' } }
        3 {
            if ($RefreshTickets -ne 'never' -and -not $Purged) { return @{ Action = 'purge' } }
            $why = 'this computer cannot retrieve the password of the account (CannotInstall)'
            $hint = if ($Purged) {
                'Its Kerberos tickets were purged and the test still fails, so the computer is not (yet) among ' +
                'the principals allowed to retrieve the password: add it, or a group it is in, with ' +
                'gmsa.farm.gmsa / gmsa.farm.host_group, and allow for replication between domain controllers.'
            }
            else {
                'Either the computer is not allowed to retrieve the password (add it, or a group it is in, with ' +
                'gmsa.farm.gmsa / gmsa.farm.host_group), or its Kerberos tickets predate a group change: use ' +
                'refresh_tickets=auto or reboot.'
            }
            return @{ Action = 'fail'; Reason = "$why. $hint" }
        }
        1 { return @{ Action = 'fail'; Reason = 'the account does not exist in the domain (NotExist); create it with gmsa.farm.gmsa first' } }
        2 { return @{ Action = 'fail'; Reason = 'the account exists but is not a managed service account (NotService)' } }
        default { return @{ Action = 'fail'; Reason = "NetQueryServiceAccount returned an unexpected state: $name" } }
    }
}

$script:BuiltinAccounts = @{
    'localsystem' = 'LocalSystem'
    '.\localsystem' = 'LocalSystem'
    'system' = 'LocalSystem'
    'nt authority\system' = 'LocalSystem'
    'networkservice' = 'NT AUTHORITY\NetworkService'
    'nt authority\networkservice' = 'NT AUTHORITY\NetworkService'
    'nt authority\network service' = 'NT AUTHORITY\NetworkService'
    'localservice' = 'NT AUTHORITY\LocalService'
    'nt authority\localservice' = 'NT AUTHORITY\LocalService'
    'nt authority\local service' = 'NT AUTHORITY\LocalService'
}

Function Resolve-ServiceIdentity {
    <#
    .SYNOPSIS
    Classifies an account string for windows_service_identity.

    .OUTPUTS
    Kind: 'gmsa' | 'builtin' | 'virtual'; Name: the account as the target stores it ('DOMAIN\name$' for a gMSA,
    'LocalSystem', 'NT AUTHORITY\NetworkService', 'NT SERVICE\x'); NeedsPassword: always $false here (accounts
    that need a password are refused: they cannot be rolled back to automatically).
    #>
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)][string]$Account,
        [string]$NetbiosDomain
    )
    $a = $Account.Trim()
    $key = $a.ToLowerInvariant()
    if ($script:BuiltinAccounts.ContainsKey($key)) {
        return @{ Kind = 'builtin'; Name = $script:BuiltinAccounts[$key]; NeedsPassword = $false }
    }
    if ($key.StartsWith('nt service\')) {
        return @{ Kind = 'virtual'; Name = 'NT SERVICE\' + $a.Substring(11); NeedsPassword = $false }
    }
    if ($key -eq 'applicationpoolidentity') {
        return @{ Kind = 'builtin'; Name = 'ApplicationPoolIdentity'; NeedsPassword = $false }
    }
    $domain = $NetbiosDomain
    $n = $a
    if ($n.Contains('\')) {
        $domain = $n.Substring(0, $n.IndexOf('\'))
        $n = $n.Substring($n.IndexOf('\') + 1)
    }
    elseif ($n.Contains('@')) {
        $n = $n.Substring(0, $n.IndexOf('@'))
    }
    if (-not $n.EndsWith('$')) { $n = "$n`$" }
    if (-not $domain) { throw "cannot tell the domain of '$Account': give it as DOMAIN\name`$" }
    $null = ConvertTo-GmsaAccountName -Name $n
    return @{ Kind = 'gmsa'; Name = "$($domain.ToUpperInvariant())\$n"; NeedsPassword = $false }
}

Function Test-SameAccount {
    <# Whether two account strings name the same account (case-insensitive, builtin aliases folded). #>
    [OutputType([bool])]
    param([AllowEmptyString()][string]$Left, [AllowEmptyString()][string]$Right)
    Function Norm([string]$s) {
        if (-not $s) { return '' }
        $k = $s.Trim().ToLowerInvariant()
        if ($script:BuiltinAccounts.ContainsKey($k)) { return $script:BuiltinAccounts[$k].ToLowerInvariant() }
        if ($k.Contains('@')) { $k = $k.Substring(0, $k.IndexOf('@')) }
        return $k
    }
    return (Norm $Left) -eq (Norm $Right)
}

Function Get-LogonRight {
    <# The account right a target type needs its identity to hold; $null when the platform grants it. #>
    [OutputType([string])]
    param([Parameter(Mandatory)][ValidateSet('service', 'iis_app_pool', 'scheduled_task')][string]$Type)
    switch ($Type) {
        'service' { return 'SeServiceLogonRight' }
        'scheduled_task' { return 'SeBatchLogonRight' }
        default { return $null }  # IIS adds app pool identities to IIS_IUSRS, which holds the batch right
    }
}

Function Test-RestartNeeded {
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)][ValidateSet('changed', 'always', 'never')][string]$Restart,
        [Parameter(Mandatory)][bool]$Changed,
        [Parameter(Mandatory)][ValidateSet('service', 'iis_app_pool', 'scheduled_task')][string]$Type
    )
    if ($Type -eq 'scheduled_task') { return $false }  # a task runs on its triggers; there is nothing to restart
    switch ($Restart) {
        'always' { return $true }
        'never' { return $false }
        default { return $Changed }
    }
}

Function Test-RollbackPossible {
    <# A previous identity can be put back automatically only when it needs no password. #>
    [OutputType([bool])]
    param([AllowEmptyString()][string]$PreviousAccount, [string]$NetbiosDomain)
    if (-not $PreviousAccount) { return $false }
    try {
        $null = Resolve-ServiceIdentity -Account $PreviousAccount -NetbiosDomain $NetbiosDomain
    }
    catch {
        return $false
    }
    $k = $PreviousAccount.Trim().ToLowerInvariant()
    if ($script:BuiltinAccounts.ContainsKey($k) -or $k.StartsWith('nt service\') -or $k -eq 'applicationpoolidentity') {
        return $true
    }
    return $k.EndsWith('$') -or $k.Contains('$@')  # a gMSA or sMSA (a user account would need its password)
}

$exported = @(
    'Get-GmsaStateName', 'ConvertTo-GmsaAccountName', 'Get-GmsaHostAction', 'Resolve-ServiceIdentity',
    'Test-SameAccount', 'Get-LogonRight', 'Test-RestartNeeded', 'Test-RollbackPossible'
)
Export-ModuleMember -Function $exported
