# Pester 5 tests of the native primitive (plugins/module_utils/GmsaNative.cs) on a real Windows domain member or
# DC, checking the documented facts the controller-side logic relies on (docs/windows-facts.md W1-W4, W6).
# Needs: $env:GMSA_TEST_ACCOUNT, a gMSA this computer may retrieve (tests/windows/prepare-lab.ps1 makes one).
BeforeAll {
    $source = Join-Path $PSScriptRoot '..\..\..\plugins\module_utils\GmsaNative.cs'
    if (-not ('ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative.ServiceAccounts' -as [type])) {
        Add-Type -Path $source
    }
    $Native = [ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative.ServiceAccounts]
    $Account = if ($env:GMSA_TEST_ACCOUNT) { $env:GMSA_TEST_ACCOUNT } else { 'ansibletest1' }
}

Describe 'GmsaNative on a domain-joined host' {
    It 'reports the NetBIOS domain the computer is joined to (W6)' {
        $join = $Native::Join()
        $join.Status | Should -Be 0
        $join.JoinStatus | Should -Be 3
        $join.Name | Should -Not -BeNullOrEmpty
    }

    It 'answers NotExist for an account that does not exist (W1)' {
        $p = $Native::Probe('gmsafarmnone')
        $p.QueryStatus | Should -Be 0
        $p.QueryState | Should -Be 1
        $p.IsService | Should -BeFalse
    }

    It 'answers Installed, never CanInstall, for a retrievable gMSA (W1)' {
        $p = $Native::Probe($Account)
        $p.QueryState | Should -Be 5
    }

    It 'records the gMSA in the Netlogon store on add and removes it on remove (W2-W4)' {
        $Native::Add($Account) | Should -Be 0
        $Native::Probe($Account).IsService | Should -BeTrue
        $Native::Remove($Account, 1) | Should -Be 0
        $after = $Native::Probe($Account)
        $after.IsService | Should -BeFalse
        $after.QueryState | Should -Be 5
    }
}
