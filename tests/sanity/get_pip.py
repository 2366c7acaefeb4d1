"""Stand-in for the get-pip.py that ansible-test downloads from ci-files.testing.ansible.com.

That host is not reachable from every CI machine (only the package registries are). ansible-test looks for the
script in ~/.ansible/test/cache/get_pip_<version>.py first and runs it with pip's options and the packages to
install (``pip==X``); this one bootstraps pip with the standard library's ensurepip and then installs exactly
those packages from the configured package index.
"""
import subprocess
import sys

GET_PIP_ONLY = {'--no-setuptools', '--no-wheel'}

args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
