# Pester 5 tests of the decision logic in plugins/module_utils/GmsaHost.psm1.
# Run on Windows (PowerShell 5.1 or 7): Invoke-Pester -Path tests/windows/pester
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '..\..\..\plugins\module_utils\GmsaHost.psm1') -Force
}

Describe 'ConvertTo-GmsaAccountName' {
    It 'accepts <In>' -ForEach @(
        @{ In = 'ITFarm1'; Out = 'ITFarm1' }
        @{ In = 'ITFarm1$'; Out = 'ITFarm1' }
        @{ In = 'CONTOSO\ITFarm1$'; Out = 'ITFarm1' }
        @{ In = 'ITFarm1$@contoso.com'; Out = 'ITFarm1' }
    ) {
        ConvertTo-GmsaAccountName -Name $In | Should -Be $Out
    }
    It 'refuses names longer than 15 characters' {
        { ConvertTo-GmsaAccountName -Name 'abcdefghijklmnop' } | Should -Throw '*at most 15 characters*'
    }
}

Describe 'Get-GmsaHostAction' {
    It 'leaves an installed account alone' {
        (Get-GmsaHostAction -Want present -State 5 -RefreshTickets auto).Action | Should -Be 'none'
    }
    It 'installs when it can' {
        (Get-GmsaHostAction -Want present -State 4 -RefreshTickets auto).Action | Should -Be 'install'
    }
    It 'purges tickets once on CannotInstall with auto' {
        (Get-GmsaHostAction -Want present -State 3 -RefreshTickets auto).Action | Should -Be 'purge'
        $after = Get-GmsaHostAction -Want present -State 3 -RefreshTickets auto -Purged $true
        $after.Action | Should -Be 'fail'
        $after.Reason | Should -BeLike '*tickets were purged and the test still fails*'
    }
    It 'fails at once with never, naming both causes' {
        $d = Get-GmsaHostAction -Want present -State 3 -RefreshTickets never
        $d.Action | Should -Be 'fail'
        $d.Reason | Should -BeLike '*not allowed to retrieve the password*tickets predate*'
    }
    It 'purges first with always, then decides' {
        (Get-GmsaHostAction -Want present -State 5 -RefreshTickets always).Action | Should -Be 'purge'
        (Get-GmsaHostAction -Want present -State 5 -RefreshTickets always -Purged $true).Action | Should -Be 'none'
    }
    It 'explains NotExist and NotService' {
        (Get-GmsaHostAction -Want present -State 1 -RefreshTickets auto).Reason | Should -BeLike '*does not exist*'
        (Get-GmsaHostAction -Want present -State 2 -RefreshTickets auto).Reason | Should -BeLike '*not a managed service account*'
    }
    It 'uninstalls only an installed account' {
        (Get-GmsaHostAction -Want absent -State 5 -RefreshTickets auto).Action | Should -Be 'uninstall'
        (Get-GmsaHostAction -Want absent -State 4 -RefreshTickets auto).Action | Should -Be 'none'
    }
}

Describe 'Resolve-ServiceIdentity' {
    It 'gMSA forms become DOMAIN\name$' -ForEach @(
        @{ In = 'ITFarm1' }, @{ In = 'ITFarm1$' }, @{ In = 'contoso\ITFarm1$' }, @{ In = 'ITFarm1$@contoso.com' }
    ) {
        $r = Resolve-ServiceIdentity -Account $In -NetbiosDomain 'CONTOSO'
        $r.Kind | Should -Be 'gmsa'
        $r.Name | Should -Be 'CONTOSO\ITFarm1$'
    }
    It 'knows the built-in accounts' {
        (Resolve-ServiceIdentity -Account 'NetworkService').Name | Should -Be 'NT AUTHORITY\NetworkService'
        (Resolve-ServiceIdentity -Account 'localsystem').Name | Should -Be 'LocalSystem'
        (Resolve-ServiceIdentity -Account 'NT SERVICE\MSSQLSERVER').Kind | Should -Be 'virtual'
    }
}

Describe 'Test-SameAccount and rollback' {
    It 'folds case and aliases' {
        Test-SameAccount -Left 'CONTOSO\itfarm1$' -Right 'contoso\ITFarm1$' | Should -BeTrue
        Test-SameAccount -Left 'NT AUTHORITY\NETWORK SERVICE' -Right 'NetworkService' | Should -BeTrue
        Test-SameAccount -Left 'LocalSystem' -Right 'CONTOSO\x$' | Should -BeFalse
    }
    It 'rolls back only to identities without a password' {
        Test-RollbackPossible -PreviousAccount 'LocalSystem' | Should -BeTrue
        Test-RollbackPossible -PreviousAccount 'CONTOSO\old$' -NetbiosDomain CONTOSO | Should -BeTrue
        Test-RollbackPossible -PreviousAccount 'CONTOSO\svc-user' -NetbiosDomain CONTOSO | Should -BeFalse
        Test-RollbackPossible -PreviousAccount '' | Should -BeFalse
    }
}

Describe 'Logon rights and restarts' {
    It 'needs the right logon right' {
        Get-LogonRight -Type service | Should -Be 'SeServiceLogonRight'
        Get-LogonRight -Type scheduled_task | Should -Be 'SeBatchLogonRight'
        Get-LogonRight -Type iis_app_pool | Should -BeNullOrEmpty
    }
    It 'restarts per policy, never tasks' {
        Test-RestartNeeded -Restart changed -Changed $true -Type service | Should -BeTrue
        Test-RestartNeeded -Restart changed -Changed $false -Type service | Should -BeFalse
        Test-RestartNeeded -Restart always -Changed $false -Type iis_app_pool | Should -BeTrue
        Test-RestartNeeded -Restart always -Changed $true -Type scheduled_task | Should -BeFalse
    }
}
