"""The directory role's copy of a credential spec to a Windows container host: the content it renders is the
module's text with the CCG plugin input put back (JSON-escaped), and that task is no_log when any spec has one."""
from __future__ import annotations

import json
import os

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.gmsa.farm.plugins.module_utils import _credential_spec as cs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TASKS = os.path.join(REPO, 'roles', 'directory', 'tasks', 'credential_specs.yml')
DOMAIN = dict(dns_name='contoso.com', netbios_name='CONTOSO', guid='244818ae-87ca-4fcd-92ec-e79e5252348a',
              sid='S-1-5-21-1-2-3', dns_tree_name='contoso.com', distinguished_name='DC=contoso,DC=com')


def copy_task():
    with open(TASKS) as f:
        tasks = yaml.safe_load(f)
    [task] = [t for t in tasks if 'ansible.windows.win_copy' in t]
    return task


def render(template, variables):
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(template))


def module_result(hac=None):
    doc = cs.build_spec(DOMAIN, 'Web$', host_account=hac)
    return dict(path='/srv/specs/web.json', content=cs.render_json(cs.masked(doc)))


def test_host_copy_is_the_module_text_when_no_plugin_input():
    task = copy_task()
    result = module_result()
    farm = dict(containers=dict(specs=[dict(account='Web')]))
    variables = dict(gmsa_farm=farm, spec=result, spec_index=0)
    assert render(task['ansible.windows.win_copy']['content'], variables) == result['content']
    assert render(task['no_log'], variables) in (False, 'False')


def test_host_copy_puts_the_plugin_input_back_json_escaped_and_hides_the_task():
    secret = 'contoso.com:ccg:pa"ss\\word'
    hac = dict(plugin_guid='{CCC2A336-D7F3-4818-A213-272B7924213E}', plugin_input=secret)
    task = copy_task()
    result = module_result(hac)
    assert secret not in result['content']
    farm = dict(containers=dict(specs=[dict(account='Web', host_account_config=hac)]))
    variables = dict(gmsa_farm=farm, spec=result, spec_index=0)
    text = render(task['ansible.windows.win_copy']['content'], variables)
    assert json.loads(text)['ActiveDirectoryConfig']['HostAccountConfig']['PluginInput'] == secret
    assert render(task['no_log'], variables) in (True, 'True')
