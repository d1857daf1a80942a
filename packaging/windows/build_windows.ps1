<#
.SYNOPSIS
    Build the Windows bundle of Fine-Tuning Studio and its Inno Setup installer.
.DESCRIPTION
    Creates build\packaging\venv (or uses -Venv), installs the project and PyInstaller with constraints.txt,
    runs packaging\studio.spec (dist\fine-tuning-studio with fine-tuning-studio.exe, windowed, and studio.exe,
    the console CLI), then Inno Setup 6 (iscc on PATH or in its default folder) on packaging\windows\studio.iss:
    dist\fine-tuning-studio-<version>-windows-x64-setup.exe.
.EXAMPLE
    powershell -ExecutionPolicy Bypass -File packaging\windows\build_windows.ps1 -Clean
#>
param(
    [switch]$Clean,
    [string]$Venv = "",
    [string]$Python = "python",
    [switch]$NoInstaller
)
$ErrorActionPreference = "Stop"
Set-Location (Resolve-Path (Join-Path $PSScriptRoot "..\.."))

function Invoke-Checked([string]$Exe, [string[]]$Arguments) {
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') exited $LASTEXITCODE" }
}

$ownVenv = -not $Venv
if ($ownVenv) { $Venv = "build\packaging\venv" }
if ($Clean) {
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue "build\pyinstaller", "dist\fine-tuning-studio"
    if ($ownVenv) { Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Venv }
}
$py = Join-Path $Venv "Scripts\python.exe"
$pyinstallerSpec = if ($env:PYINSTALLER_SPEC) { $env:PYINSTALLER_SPEC } else { ">=6.10,<7" }
if ($ownVenv) {
    if (-not (Test-Path $py)) { Invoke-Checked $Python @("-m", "venv", $Venv) }
    Write-Host "== installing the project and PyInstaller into $Venv"
    $pipArgs = @("-m", "pip", "install", "--disable-pip-version-check", "-q", "-c", "constraints.txt")
    if ($env:PIP_ARGS) { $pipArgs += $env:PIP_ARGS -split " " }
    Invoke-Checked $py ($pipArgs + @(".", "pyinstaller$pyinstallerSpec"))
} else {
    & $py -c "import PyInstaller" 2>$null
    if ($LASTEXITCODE -ne 0) { Invoke-Checked $py @("-m", "pip", "install", "-q", "pyinstaller$pyinstallerSpec") }
}

Write-Host "== PyInstaller"
Invoke-Checked $py @("-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", "dist",
                     "--workpath", "build\pyinstaller", "packaging\studio.spec")
$version = (& $py packaging/version.py).Trim()
Invoke-Checked "dist\fine-tuning-studio\studio.exe" @("--version")
$size = (Get-ChildItem -Recurse -File "dist\fine-tuning-studio" | Measure-Object -Sum Length).Sum / 1MB
Write-Host ("bundle: dist\fine-tuning-studio ({0:N0} MiB), version {1}" -f $size, $version)

if (-not $NoInstaller) {
    Write-Host "== Inno Setup"
    Invoke-Checked $py @("packaging\icons.py", "ico", "build\packaging\fine-tuning-studio.ico")
    $iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
    if (-not $iscc) { $iscc = Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe" }
    if (-not (Test-Path $iscc)) { throw "Inno Setup 6 is not installed (choco install innosetup)" }
    Invoke-Checked $iscc @("/Qp", "/DAppVersion=$version", "packaging\windows\studio.iss")
    Get-Item "dist\fine-tuning-studio-$version-windows-x64-setup.exe" | ForEach-Object {
        Write-Host ("{0} ({1:N0} MiB)" -f $_.FullName, ($_.Length / 1MB))
    }
}
Write-Host "smoke test: python packaging\smoke_test.py dist\fine-tuning-studio"
