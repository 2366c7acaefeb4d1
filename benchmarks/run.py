"""gmsa.farm benchmark: directory modules vs a minimal ldap3 script vs samba-tool, against the lab DC.

    bash benchmarks/run.sh [--reps N] [--quick]

Measures, several repetitions each (min and median):
  1. gmsa create, no-op rerun, add 1 and 50 allowed principals, delete: the module as a process (run with its
     arguments, as Ansible's wrapper does), a minimal ldap3 script doing the same LDAP operations
     (benchmarks/raw_ldap3.py), and samba-tool service-account for the operations it has;
  2. LDAP requests sent after the bind per task (the module counts them when GMSA_FARM_COUNT_REQUESTS is set);
  3. gmsa_info over 1000 accounts vs a raw ldap3 paged search of the same attributes;
  4. a whole estate: 100 accounts (2 SPNs, 2 allowed principals each) as one list task, as a
     per-account loop, through samba-tool (sampled, extrapolated) and the raw ldap3 floor - first run,
     idempotent rerun, check mode; 1000 accounts as one list task, with the module's peak RSS.
Writes benchmarks/results/benchmark.{md,json,png} and estate.{md,json,png}. Not a pass/fail test.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.environ.get('GMSA_BENCH_RESULTS') or os.path.join(HERE, 'results')
sys.path.insert(0, os.path.join(REPO, '.collections'))


def lab_env():
    out = subprocess.run(['bash', os.path.join(REPO, 'tests', 'lab', 'dc.sh'), 'up'], capture_output=True,
                         text=True, check=True)
    env = {}
    with open(out.stdout.strip().splitlines()[-1]) as f:
        for line in f:
            line = line.strip()[len('export '):]
            k, v = line.split('=', 1)
            env[k] = shlex.split(v)[0]
    return env


def admin_conn(lab):
    import ldap3
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=lab['GMSA_DOMAIN_CA_CERT'])
    server = ldap3.Server(lab['GMSA_DOMAIN_SERVER'], port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
    return ldap3.Connection(server, lab['GMSA_DOMAIN_USERNAME'], lab['GMSA_DOMAIN_PASSWORD'], auto_bind=True)


class Bench(object):
    def __init__(self, lab, ou, reps):
        self.lab, self.ou, self.reps = lab, ou, reps
        self.env = dict(os.environ, **lab)
        self.env.update(PYTHONPATH=os.path.join(REPO, '.collections'), GMSA_FARM_COUNT_REQUESTS='1',
                        BENCH_PATH=ou, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.collections'),
                        ANSIBLE_CONFIG=os.path.join(REPO, 'tests', 'ansible.cfg'))
        self.samba_args = shlex.split(lab['GMSA_LAB_SAMBA_TOOL_ARGS'])
        self.times = {}     # (case, tool) -> [seconds]
        self.requests = {}  # (case, tool) -> requests after bind
        self.tmp = tempfile.mkdtemp(prefix='gmsa-bench-')

    def record(self, case, tool, seconds, requests=None):
        self.times.setdefault((case, tool), []).append(seconds)
        if requests is not None:
            self.requests[(case, tool)] = requests

    def args_file(self, args):
        """The module's arguments with the lab connection, as Ansible hands them to a module process."""
        path = os.path.join(self.tmp, 'args.json')
        full = dict(domain_server=[self.lab['GMSA_DOMAIN_SERVER']], domain_username=self.lab['GMSA_DOMAIN_USERNAME'],
                    domain_password=self.lab['GMSA_DOMAIN_PASSWORD'], domain_ca_cert=self.lab['GMSA_DOMAIN_CA_CERT'])
        full.update(args)
        with open(path, 'w') as f:
            json.dump(dict(ANSIBLE_MODULE_ARGS=full), f)
        return path

    def module(self, name, args):
        path = self.args_file(args)
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, os.path.join(REPO, 'plugins', 'modules', name + '.py'), path],
                           capture_output=True, text=True, env=self.env, check=False)
        dt = time.perf_counter() - t0
        r = json.loads(p.stdout)
        if r.get('failed'):
            raise RuntimeError('%s failed: %s' % (name, r.get('msg')))
        return dt, r

    def raw(self, *argv):
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, os.path.join(HERE, 'raw_ldap3.py')] + list(argv), capture_output=True,
                           text=True, env=self.env, check=False)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError('raw_ldap3 %s failed: %s' % (argv[0], p.stderr[-500:]))
        return dt, int(p.stdout.strip().splitlines()[-1])

    def samba(self, *argv):
        t0 = time.perf_counter()
        p = subprocess.run(['samba-tool'] + list(argv) + self.samba_args, capture_output=True, text=True,
                           check=False)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError('samba-tool %s failed: %s' % (' '.join(argv[:2]), p.stderr[-500:]))
        return dt

    # ------------------------------------------------------------------ case 1 and 2
    def single_operations(self, hosts):
        one, fifty = hosts[:1], hosts[1:51]
        for rep in range(self.reps):
            # module
            n = 'bm%s' % uuid.uuid4().hex[:8]
            base = dict(name=n, path=self.ou)
            dt, r = self.module('gmsa', dict(base, dns_hostname='%s.bench.test' % n))
            self.record('create', 'module', dt, r['ldap_requests'])
            dt, r = self.module('gmsa', dict(base, dns_hostname='%s.bench.test' % n))
            assert not r['changed']
            self.record('no-op rerun', 'module', dt, r['ldap_requests'])
            dt, r = self.module('gmsa', dict(base, allowed_to_retrieve_password=dict(add=one)))
            self.record('add 1 principal', 'module', dt, r['ldap_requests'])
            dt, r = self.module('gmsa', dict(base, allowed_to_retrieve_password=dict(add=fifty)))
            self.record('add 50 principals', 'module', dt, r['ldap_requests'])
            dt, r = self.module('gmsa', dict(base, allowed_to_retrieve_password=dict(add=one + fifty)))
            assert not r['changed']
            self.record('no-op with 51 principals', 'module', dt, r['ldap_requests'])
            dt, r = self.module('gmsa', dict(base, state='absent'))
            self.record('delete', 'module', dt, r['ldap_requests'])
            # raw ldap3
            n = 'br%s' % uuid.uuid4().hex[:8]
            for case, argv in (('create', ('create', n)), ('no-op rerun', ('noop', n)),
                               ('add 1 principal', ('add', n) + tuple(one)),
                               ('add 50 principals', ('add', n) + tuple(fifty)),
                               ('no-op with 51 principals', ('noop', n) + tuple(one + fifty)),
                               ('delete', ('delete', n))):
                dt, req = self.raw(*argv)
                self.record(case, 'raw ldap3', dt, req)
            # samba-tool (what it has: create, view, add one principal per call, delete)
            n = 'bs%s' % uuid.uuid4().hex[:8]
            self.record('create', 'samba-tool', self.samba(
                'service-account', 'create', '--name=%s' % n, '--dns-host-name=%s.bench.test' % n))
            self.record('no-op rerun', 'samba-tool', self.samba('service-account', 'view', '--name=%s' % n))
            self.record('add 1 principal', 'samba-tool', self.samba(
                'service-account', 'group-msa-membership', 'add', '--name=%s' % n, '--principal=%s' % one[0]))
            if rep == 0 and not self.quick:
                t = sum(self.samba('service-account', 'group-msa-membership', 'add', '--name=%s' % n,
                                   '--principal=%s' % h) for h in fifty)
                self.record('add 50 principals', 'samba-tool', t)
            self.record('delete', 'samba-tool', self.samba('service-account', 'delete', '--name=%s' % n))

    # ------------------------------------------------------------------ case 3
    def info_1000(self, admin, count):
        import ldap3
        from ansible_collections.gmsa.farm.plugins.module_utils._gmsa import ACCOUNT_ATTRIBUTES
        sub = 'OU=info,%s' % self.ou
        admin.add(sub, 'organizationalUnit')
        for i in range(count):
            sam = 'in%05d' % i
            ok = admin.add('CN=%s,%s' % (sam, sub), ['top', 'msDS-GroupManagedServiceAccount'], {
                'sAMAccountName': sam + '$', 'msDS-ManagedPasswordInterval': 30, 'userAccountControl': 0x1000,
                'dNSHostName': '%s.bench.test' % sam})
            assert ok, admin.result
        env_path = dict(self.env, BENCH_PATH=sub)
        for dummy in range(self.reps):
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, os.path.join(HERE, 'raw_ldap3.py'), 'info', '-',
                                ','.join(ACCOUNT_ATTRIBUTES)], capture_output=True, text=True, env=env_path,
                               check=True)
            self.record('gmsa_info, %d accounts' % count, 'raw ldap3', time.perf_counter() - t0)
            assert int(p.stdout.strip()) == count
            dt, r = self.module('gmsa_info', dict(path=sub))
            assert len(r['accounts']) == count
            self.record('gmsa_info, %d accounts' % count, 'module', dt, r['ldap_requests'])
        del ldap3

    # ------------------------------------------------------------------ case 4: a whole estate
    def playbook(self, name, text, extra, check=False):
        pb = os.path.join(self.tmp, name + '.yml')
        with open(pb, 'w') as f:
            f.write(text)
        env = dict(self.env)
        env.update(GMSA_DOMAIN_SERVER=self.lab['GMSA_DOMAIN_SERVER'])
        t0 = time.perf_counter()
        p = subprocess.run(['ansible-playbook', pb, '-e', '@' + extra] + (['--check'] if check else []),
                           capture_output=True, text=True, env=env, check=False)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(p.stdout[-3000:])
        return dt, p.stdout

    def estate_file(self, count, prefix, sub, groups):
        path = os.path.join(self.tmp, '%s.json' % prefix)
        accounts = []
        for i in range(count):
            n = '%s%05d' % (prefix, i)
            dns = '%s.bench.test' % n
            accounts.append(dict(name=n, path=sub, dns_hostname=dns, spn=dict(set=['http/' + dns, 'http/' + n]),
                                 allowed_to_retrieve_password=dict(set=list(groups))))
        with open(path, 'w') as f:
            json.dump(dict(estate=accounts), f)
        return path

    LIST_PB = '''- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The estate, one task
      gmsa.farm.gmsa:
        accounts: "{{ estate }}"
'''
    LOOP_PB = '''- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The estate, one task per account
      gmsa.farm.gmsa:
        name: "{{ item.name }}"
        path: "{{ item.path }}"
        dns_hostname: "{{ item.dns_hostname }}"
        spn: "{{ item.spn }}"
        allowed_to_retrieve_password: "{{ item.allowed_to_retrieve_password }}"
      loop: "{{ estate }}"
'''

    def estate(self, admin, count, big, samba_sample):
        groups = []
        for g in ('ehosts-a', 'ehosts-b'):
            admin.add('CN=%s,%s' % (g, self.ou), 'group', {'sAMAccountName': g, 'groupType': -2147483646})
            groups.append(g)
        cases = [('list task', 'el', self.LIST_PB), ('per-account loop', 'ep', self.LOOP_PB)]
        for label, prefix, text in cases:
            sub = 'OU=%s,%s' % (prefix, self.ou)
            admin.add(sub, 'organizationalUnit')
            extra = self.estate_file(count, prefix, sub, groups)
            for run, check in (('first run', False), ('idempotent rerun', False), ('check-mode drift report', True)):
                dt, out = self.playbook(prefix, text, extra, check=check)
                self.record('estate %d: %s' % (count, run), label, dt)
        # the floor: the same LDAP work in a minimal script
        sub = 'OU=er,%s' % self.ou
        admin.add(sub, 'organizationalUnit')
        env = dict(self.env, BENCH_PATH=sub)
        for run in ('first run', 'idempotent rerun'):
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, os.path.join(HERE, 'raw_ldap3.py'), 'estate', str(count), 'er'] +
                               groups, capture_output=True, text=True, env=env, check=False)
            if p.returncode != 0:
                raise RuntimeError('raw_ldap3 estate failed: %s' % p.stderr[-1500:])
            self.record('estate %d: %s' % (count, run), 'raw ldap3', time.perf_counter() - t0,
                        int(p.stdout.strip().splitlines()[-1]))
        # samba-tool has no list: create + 2 SPNs + 2 principals per account, measured on a sample, extrapolated
        # (samba-tool creates in the Managed Service Accounts container, outside the bench OU: unique names, and
        # each deleted even when a step fails)
        t = 0.0
        run = uuid.uuid4().hex[:6]
        for i in range(samba_sample):
            n = 'es%s%03d' % (run, i)
            t += self.samba('service-account', 'create', '--name=%s' % n, '--dns-host-name=%s.bench.test' % n)
            try:
                for spn in ('http/%s.bench.test' % n, 'http/%s' % n):
                    t += self.samba('spn', 'add', spn, n + '$')
                for g in groups:    # samba-tool finds a group principal by its DN
                    t += self.samba('service-account', 'group-msa-membership', 'add', '--name=%s' % n,
                                    '--principal=CN=%s,%s' % (g, self.ou))
            finally:
                self.samba('service-account', 'delete', '--name=%s' % n)
        self.record('estate %d: first run' % count, 'samba-tool (extrapolated)', t / samba_sample * count)
        # the list task's LDAP requests on a no-op (module process, counted)
        extra = os.path.join(self.tmp, 'el.json')
        with open(extra) as f:
            accounts = json.load(f)['estate']
        dt, r = self.module('gmsa', dict(accounts=accounts))
        assert not r['changed']
        self.requests[('estate %d: idempotent rerun' % count, 'list task')] = r['ldap_requests']
        if big:
            sub = 'OU=eb,%s' % self.ou
            admin.add(sub, 'organizationalUnit')
            extra = self.estate_file(big, 'eb', sub, groups)
            for run, check in (('first run', False), ('idempotent rerun', False), ('check-mode drift report', True)):
                dt, out = self.playbook('eb', self.LIST_PB, extra, check=check)
                self.record('estate %d: %s' % (big, run), 'list task', dt)
            with open(extra) as f:
                accounts = json.load(f)['estate']
            rss, r = self.module_rss('gmsa', dict(accounts=accounts))
            assert not r['changed']
            self.requests[('estate %d: idempotent rerun' % big, 'list task')] = r['ldap_requests']
            self.rss = rss
            env = dict(self.env, BENCH_PATH=sub)
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, os.path.join(HERE, 'raw_ldap3.py'), 'estate', str(big), 'eb'] +
                               groups, capture_output=True, text=True, env=env, check=True)
            self.record('estate %d: idempotent rerun' % big, 'raw ldap3', time.perf_counter() - t0,
                        int(p.stdout.strip().splitlines()[-1]))

    def module_rss(self, name, args):
        """Peak RSS (MiB) of the module process alone: run through a wrapper that reports its child's rusage."""
        path = self.args_file(args)
        wrapper = ('import json, resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, '
                   'text=True); print(json.dumps(dict(rss=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, '
                   'out=p.stdout)))')
        p = subprocess.run([sys.executable, '-c', wrapper, sys.executable,
                            os.path.join(REPO, 'plugins', 'modules', name + '.py'), path],
                           capture_output=True, text=True, env=self.env, check=True)
        w = json.loads(p.stdout)
        return w['rss'] / 1024.0, json.loads(w['out'])


def write_estate(b, meta):
    """The estate table (results/estate.md) and chart (results/estate.png)."""
    os.makedirs(RESULTS, exist_ok=True)
    tools = ['list task', 'per-account loop', 'samba-tool (extrapolated)', 'raw ldap3']
    cases = []
    for (case, tool) in b.times:
        if case.startswith('estate') and case not in cases:
            cases.append(case)
    if not cases:
        return
    lines = ['# Estate benchmark', '',
             'Each account: 2 SPNs, 2 allowed principals. Wall seconds of `ansible-playbook` (list task, per-account '
             'loop), of the minimal ldap3 script doing the same LDAP work (the floor), and samba-tool measured on '
             '%d accounts (create, 2 spn add, 2 group-msa-membership add each) and extrapolated. Lab DC: Samba %s, %s.'
             % (meta.get('samba_sample', 0), meta['samba'], meta['machine']), '',
             '| case | %s | list task / raw | LDAP requests list task / raw |' % ' | '.join(tools),
             '|---|%s---|---|' % ('---|' * len(tools))]
    rows = []
    for case in cases:
        cells, vals = [], {}
        for t in tools:
            xs = b.times.get((case, t))
            if xs:
                vals[t] = statistics.median(xs)
                cells.append('%.2f' % vals[t])
            else:
                cells.append('—')
        ratio = '%.1f×' % (vals['list task'] / vals['raw ldap3']) if 'list task' in vals and 'raw ldap3' in vals \
            else '—'
        req = '%s / %s' % (b.requests.get((case, 'list task'), '—'), b.requests.get((case, 'raw ldap3'), '—'))
        lines.append('| %s | %s | %s | %s |' % (case, ' | '.join(cells), ratio, req))
        rows.append(dict(case=case, seconds=vals))
    if meta.get('rss_mib'):
        lines += ['', 'Peak RSS of the module process for the %d-account no-op: %.0f MiB.'
                  % (meta['big'], meta['rss_mib'])]
    with open(os.path.join(RESULTS, 'estate.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(RESULTS, 'estate.json'), 'w') as f:
        counted = dict(('%s|%s' % k, v) for k, v in b.requests.items() if k[0].startswith('estate'))
        json.dump(dict(meta=meta, rows=rows, requests=counted), f, indent=1)
    bar_chart(b, cases, tools, 'seconds (log scale)',
              'A whole estate: one list task vs a per-account loop vs samba-tool vs the raw LDAP floor', 'estate.png')


def bar_chart(b, cases, tools, ylabel, title, filename):
    """Median seconds per case, one bar per tool, log scale; nothing without matplotlib."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        print('matplotlib not installed: no chart')
        return
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / len(tools)
    for i, t in enumerate(tools):
        ys = [statistics.median(b.times[(c, t)]) if (c, t) in b.times else 0 for c in cases]
        ax.bar([x + (i - (len(tools) - 1) / 2.0) * width for x in range(len(cases))], ys, width, label=t)
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases, rotation=20, ha='right')
    ax.set_yscale('log')
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, filename), dpi=110)


def stats(xs):
    return min(xs), statistics.median(xs)


def write_results(b, meta):
    os.makedirs(RESULTS, exist_ok=True)
    cases = []
    for (case, tool) in b.times:
        if case not in cases:
            cases.append(case)
    tools = ['module', 'raw ldap3', 'samba-tool']
    lines = ['# gmsa.farm benchmark', '',
             'Lab DC: Samba %s on this machine (%s). %d repetitions per case; seconds per operation '
             '(min / median), one process per operation as Ansible runs a module. "requests" are the LDAP '
             'requests sent after the bind (searches, adds, modifies, deletes), counted by instrumentation.'
             % (meta['samba'], meta['machine'], b.reps), '',
             '| case | module min / median | raw ldap3 min / median | samba-tool min / median | module / raw '
             '| module / samba-tool | requests module / raw |',
             '|---|---|---|---|---|---|---|']
    rows = []
    for case in cases:
        cells, meds = [], {}
        for t in tools:
            xs = b.times.get((case, t))
            if xs:
                mn, md = stats(xs)
                meds[t] = md
                cells.append('%.3f / %.3f' % (mn, md))
            else:
                cells.append('—')
        ratio_raw = '%.2f×' % (meds['module'] / meds['raw ldap3']) if 'module' in meds and 'raw ldap3' in meds \
            else '—'
        ratio_st = '%.2f×' % (meds['module'] / meds['samba-tool']) if 'module' in meds and 'samba-tool' in meds \
            else '—'
        req = '%s / %s' % (b.requests.get((case, 'module'), '—'), b.requests.get((case, 'raw ldap3'), '—'))
        lines.append('| %s | %s | %s | %s | %s | %s | %s |' % (case, cells[0], cells[1], cells[2], ratio_raw,
                                                               ratio_st, req))
        rows.append(dict(case=case, medians=meds, requests=dict(
            (t, b.requests.get((case, t))) for t in tools if (case, t) in b.requests)))
    lines.append('')
    if meta.get('samba_per_account'):
        lines.append('samba-tool has no loop: %d accounts would take about %.1f s at its measured median per create '
                     '(extrapolated, not run).' % (meta['loop_count'], meta['samba_per_account']))
    with open(os.path.join(RESULTS, 'benchmark.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(RESULTS, 'benchmark.json'), 'w') as f:
        json.dump(dict(meta=meta, rows=rows, raw=dict(('%s|%s' % k, v) for k, v in b.times.items()),
                       requests=dict(('%s|%s' % k, v) for k, v in b.requests.items())), f, indent=1)
    single = [c for c in cases if not c.startswith(('gmsa_info', 'playbook', 'estate'))]
    bar_chart(b, single, tools, 'seconds per operation (median, log scale)',
              'gmsa.farm module process vs raw ldap3 vs samba-tool (lab DC)', 'benchmark.png')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--quick', action='store_true', help='smoke: one repetition, no 1000/100-account cases')
    ap.add_argument('--info-accounts', type=int, default=1000)
    ap.add_argument('--loop-accounts', type=int, default=100, help='accounts of the estate cases')
    ap.add_argument('--big-accounts', type=int, default=1000, help='accounts of the large estate (list task only)')
    ap.add_argument('--samba-sample', type=int, default=10, help='accounts samba-tool really creates')
    ap.add_argument('--estate-only', action='store_true', help='only the estate cases')
    ap.add_argument('--replot', action='store_true', help='rewrite the table and chart from results/benchmark.json')
    a = ap.parse_args()
    if a.replot:
        with open(os.path.join(RESULTS, 'benchmark.json')) as f:
            saved = json.load(f)
        b = Bench.__new__(Bench)
        b.reps = saved['meta']['reps']
        b.times = dict((tuple(k.split('|', 1)), v) for k, v in saved['raw'].items())
        b.requests = dict((tuple(k.split('|', 1)), v) for k, v in saved.get('requests', {}).items())
        if not b.requests:
            for row in saved['rows']:
                for tool, n in row['requests'].items():
                    b.requests[(row['case'], tool)] = n
        write_results(b, saved['meta'])
        return
    lab = lab_env()
    admin = admin_conn(lab)
    ou = 'OU=bench-%s,%s' % (uuid.uuid4().hex[:8], lab['GMSA_LAB_BASE_DN'])
    admin.add(ou, 'organizationalUnit')
    reps = 1 if a.quick else a.reps
    b = Bench(lab, ou, reps)
    b.quick = a.quick
    hosts = []
    try:
        for i in range(51):
            sam = 'bh%03d' % i
            admin.add('CN=%s,%s' % (sam, ou), ['top', 'person', 'organizationalPerson', 'user', 'computer'],
                      {'sAMAccountName': sam + '$', 'userAccountControl': 0x1000})
            hosts.append(sam + '$')
        version = subprocess.run(['samba', '--version'], capture_output=True, text=True, check=True).stdout
        meta = dict(samba=version.split()[1],
                    machine='%d cores' % os.cpu_count(), reps=reps, quick=a.quick)
        if not a.estate_only:
            b.single_operations(hosts)
        if not a.quick and not a.estate_only:
            b.info_1000(admin, a.info_accounts)
        if not a.quick:
            b.estate(admin, a.loop_accounts, a.big_accounts, a.samba_sample)
            meta.update(samba_sample=a.samba_sample, big=a.big_accounts, rss_mib=getattr(b, 'rss', None))
            write_estate(b, meta)
            print(open(os.path.join(RESULTS, 'estate.md')).read())
        if not a.estate_only:
            write_results(b, meta)
            print(open(os.path.join(RESULTS, 'benchmark.md')).read())
    finally:
        import ldap3
        admin.search(ou, '(objectClass=*)', search_scope=ldap3.SUBTREE, attributes=['1.1'], paged_size=1000)
        dns = [e['dn'] for e in admin.response if e.get('type') == 'searchResEntry']
        cookie = True
        while cookie:
            cookie = admin.result.get('controls', {}).get('1.2.840.113556.1.4.319', {}).get('value', {}).get('cookie')
            if cookie:
                admin.search(ou, '(objectClass=*)', search_scope=ldap3.SUBTREE, attributes=['1.1'], paged_size=1000,
                             paged_cookie=cookie)
                dns += [e['dn'] for e in admin.response if e.get('type') == 'searchResEntry']
        for d in sorted(set(dns), key=lambda x: -x.count(',')):
            admin.delete(d)


if __name__ == '__main__':
    main()
