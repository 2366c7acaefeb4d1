# Prepares a Windows Server host as the gmsa.farm Windows lab (docs/windows-tests.md). Run elevated.
# First run on a fresh server: installs AD DS and promotes it to a one-host forest, then asks for a reboot
# (promotion needs one, which is why this lab is a self-hosted runner and not a GitHub-hosted one).
# Later runs (idempotent): a usable KDS root key, the test gMSAs (one retrievable by this computer, one not),
# WinRM over HTTPS for the controller, Pester 5.
param(
    [string]$DomainName = 'gmsafarm.test',
    [string]$NetbiosName = 'GMSAFARM',
    [string]$Account = 'ansibletest1',
    [string]$DeniedAccount = 'ansibletest2'
)
$ErrorActionPreference = 'Stop'
$cs = Get-CimInstance -ClassName Win32_ComputerSystem
if ($cs.DomainRole -lt 4) {
    Install-WindowsFeature -Name AD-Domain-Services -IncludeManagementTools | Out-Null
    $pw = ConvertTo-SecureString -String ([Guid]::NewGuid().ToString() + 'aA1!') -AsPlainText -Force
    $forest = @{
        DomainName = $DomainName
        DomainNetbiosName = $NetbiosName
        SafeModeAdministratorPassword = $pw
        InstallDns = $true
        NoRebootOnCompletion = $true
        Force = $true
    }
    Install-ADDSForest @forest | Out-Null
    Write-Output 'Promoted to a domain controller: reboot, then run this script again.'
    exit 3
}
Import-Module ActiveDirectory
if (-not (Get-KdsRootKey)) { Add-KdsRootKey -EffectiveTime ((Get-Date).AddHours(-10)) | Out-Null }
$me = Get-ADComputer -Identity $env:COMPUTERNAME
foreach ($name in $Account, $DeniedAccount) {
    if (-not (Get-ADServiceAccount -Filter "Name -eq '$name'")) {
        $params = @{
            Name = $name
            DNSHostName = "$name.$DomainName"
            KerberosEncryptionType = @('AES128', 'AES256')
        }
        if ($name -eq $Account) { $params.PrincipalsAllowedToRetrieveManagedPassword = $me }
        New-ADServiceAccount @params
    }
}
if (-not (Get-Module -ListAvailable Pester | Where-Object Version -ge '5.0.0')) {
    Install-Module -Name Pester -MinimumVersion 5.0.0 -Force -SkipPublisherCheck -Scope AllUsers
}
& klist.exe -li 0x3e7 purge | Out-Null
Write-Output "Lab ready: $NetbiosName\$Account`$ (retrievable here), $NetbiosName\$DeniedAccount`$ (not)."
