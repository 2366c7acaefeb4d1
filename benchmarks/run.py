"""gmsa.farm benchmark: directory modules vs a minimal ldap3 script vs samba-tool, against the lab DC.

    bash benchmarks/run.sh [--reps N] [--quick] [--estate-only] [--own-dc]
    bash benchmarks/run.sh --targets [--profile]     # the object engine's targets, on the benchmark's own DC

Measures, several repetitions each (min and median):
  1. gmsa create, no-op rerun, add 1 and 50 allowed principals, delete: the module as a process (run with its
     arguments, as Ansible's wrapper does), a minimal ldap3 script doing the same LDAP operations
     (benchmarks/raw_ldap3.py), and samba-tool service-account for the operations it has;
  2. LDAP requests sent after the bind per task (the module counts them when GMSA_FARM_COUNT_REQUESTS is set);
  3. gmsa_info over 1000 accounts vs a raw ldap3 paged search of the same attributes;
  4. a whole estate: 100 accounts (2 SPNs, 2 allowed principals each) as one list task, as a
     per-account loop, through samba-tool (sampled, extrapolated) and the raw ldap3 floor - first run,
     idempotent rerun, check mode; 1000 accounts as one list task, with the module's peak RSS;
  5. --targets: the list-form first run of 100 accounts as a module process against the raw floor doing the same
     adds, alternating in the same run, and the no-op rerun of persistent 1000- and 10,000-account estates
     (created once by raw ldap3, kept on the benchmark's own DC) as a module process (seconds, peak RSS) and as
     ansible-playbook; --profile adds a cProfile of the module process per case (results/profile-*.txt).
Writes benchmarks/results/benchmark.{md,json,png}, estate.{md,json,png}, targets.{md,json}. Not a pass/fail test.
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
# The collection measured: this checkout, or another one (--code DIR, e.g. an exported branch), seen by the module
# processes and ansible-playbook as gmsa.farm through a collections folder of its own.
CODE = {'root': REPO, 'collections': os.path.join(REPO, '.collections'), 'label': None}


VERSUS = {}     # --versus DIR: a second checkout measured beside CODE, alternating in the same run


def use_code(root, label=None, into=None):
    into = CODE if into is None else into
    root = os.path.abspath(root)
    folder = tempfile.mkdtemp(prefix='gmsa-bench-code-')
    os.makedirs(os.path.join(folder, 'ansible_collections', 'gmsa'))
    os.symlink(root, os.path.join(folder, 'ansible_collections', 'gmsa', 'farm'))
    into.update(root=root, collections='%s:%s' % (folder, os.path.join(REPO, '.collections')), label=label)


def codes():
    """(tool suffix, code) for each checkout measured: this one (or --code), and --versus."""
    return [('', CODE)] + ([(' [versus]', VERSUS)] if VERSUS else [])


# The benchmark's own DC (--own-dc): a separate realm and address, so thousands of accounts never land on the
# shared lab DC the tests use. Any GMSA_LAB_* variable already set wins.
# GMSA_BENCH_LAB_ROOT: the folder holding .lab-bench* (default: this checkout), so another checkout reuses the
# estates an earlier run created instead of creating them again.
LAB_ROOT = os.environ.get('GMSA_BENCH_LAB_ROOT') or REPO
OWN_DC = dict(GMSA_LAB_DIR=os.path.join(LAB_ROOT, '.lab-bench'), GMSA_LAB_IP='127.0.0.13',
              GMSA_LAB_REALM='BENCHLAB.TEST', GMSA_LAB_DOMAIN='BENCHLAB')


def lab_env(own_dc=False, settings=None):
    """Start (or reuse) the lab DC with tests/lab/dc.sh (its GMSA_LAB_* settings from the environment, or the
    benchmark's own DC, or ``settings``) and return the lab's env file as a dict."""
    env = dict(os.environ)
    if own_dc:
        for k, v in OWN_DC.items():
            env.setdefault(k, v)
    env.update(settings or {})
    out = subprocess.run(['bash', os.path.join(REPO, 'tests', 'lab', 'dc.sh'), 'up'], capture_output=True,
                         text=True, check=False, env=env)
    if out.returncode != 0:
        raise RuntimeError('the lab DC did not start: %s' % out.stderr[-2000:])
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


def ensure_kds_root_key(lab, admin):
    """gMSA adds need a usable KDS root key: Samba's provisioning makes one (usable at once); create one with
    samba-tool when the benchmark's DC has none."""
    import ldap3
    keys = 'CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,%s' \
        % lab['GMSA_LAB_BASE_DN']
    admin.search(keys, '(objectClass=msKds-ProvRootKey)', search_scope=ldap3.LEVEL, attributes=['cn'])
    if not [e for e in admin.response if e.get('type') == 'searchResEntry']:
        subprocess.run(['samba-tool', 'domain', 'kds', 'root-key', 'create', '--use-start-time=2000-01-01T00:00:00']
                       + shlex.split(lab['GMSA_LAB_SAMBA_TOOL_ARGS']), capture_output=True, text=True, check=True)


def count_accounts(admin, path):
    """gMSAs directly under ``path`` (paged)."""
    import ldap3
    n = 0
    for e in admin.extend.standard.paged_search(path, '(objectClass=msDS-GroupManagedServiceAccount)',
                                                search_scope=ldap3.LEVEL, attributes=['1.1'], paged_size=1000,
                                                generator=True):
        n += e.get('type') == 'searchResEntry'
    return n


MODULE_WRAPPER = (
    'import json, resource, subprocess, sys, time\n'
    't0 = time.perf_counter()\n'
    'p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n'
    'dt = time.perf_counter() - t0\n'
    'print(json.dumps(dict(seconds=dt, rss=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, out=p.stdout, '
    'err=p.stderr[-3000:], rc=p.returncode)))\n')


class Bench(object):
    def __init__(self, lab, ou, reps):
        self.lab, self.ou, self.reps = lab, ou, reps
        self.env = dict(os.environ, **lab)
        self.env.update(PYTHONPATH=CODE['collections'], GMSA_FARM_COUNT_REQUESTS='1',
                        BENCH_PATH=ou, ANSIBLE_COLLECTIONS_PATH=CODE['collections'],
                        ANSIBLE_CONFIG=os.path.join(REPO, 'tests', 'ansible.cfg'))
        self.samba_args = shlex.split(lab['GMSA_LAB_SAMBA_TOOL_ARGS'])
        self.times = {}     # (case, tool) -> [seconds]
        self.requests = {}  # (case, tool) -> requests after bind
        self.tmp = tempfile.mkdtemp(prefix='gmsa-bench-')
        self.rss_by_count = {}  # accounts -> peak RSS (MiB) of the list-form module process on the no-op
        self.fills = {}         # accounts -> the raw creation of that estate, when this run made it
        self.profile = False

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
        p = subprocess.run([sys.executable, os.path.join(CODE['root'], 'plugins', 'modules', name + '.py'), path],
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
        from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import ACCOUNT_ATTRIBUTES
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
    def playbook(self, name, text, extra, check=False, code=None):
        pb = os.path.join(self.tmp, name + '.yml')
        with open(pb, 'w') as f:
            f.write(text)
        env = dict(self.env)
        env.update(GMSA_DOMAIN_SERVER=self.lab['GMSA_DOMAIN_SERVER'])
        if code:
            env.update(PYTHONPATH=code['collections'], ANSIBLE_COLLECTIONS_PATH=code['collections'])
        t0 = time.perf_counter()
        p = subprocess.run(['ansible-playbook', pb, '-e', '@' + extra] + (['--check'] if check else []),
                           capture_output=True, text=True, env=env, check=False)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(p.stdout[-3000:])
        return dt, p.stdout

    def estate_file(self, count, prefix, sub, groups):
        path = os.path.join(self.tmp, '%s.json' % prefix)
        accounts = self.estate_accounts(count, prefix, sub, groups)
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
        self.noop_module(count, accounts, self.reps, False)
        self.first_run_pairs(admin, count, groups, self.reps, self.profile)
        if big:
            sub = 'OU=eb,%s' % self.ou
            admin.add(sub, 'organizationalUnit')
            extra = self.estate_file(big, 'eb', sub, groups)
            for run, check in (('first run', False), ('idempotent rerun', False), ('check-mode drift report', True)):
                dt, out = self.playbook('eb', self.LIST_PB, extra, check=check)
                self.record('estate %d: %s' % (big, run), 'list task', dt)
            with open(extra) as f:
                accounts = json.load(f)['estate']
            self.noop_module(big, accounts, self.reps, self.profile)
            dt, req = self.raw_estate(sub, big, 'eb', groups)
            self.record('estate %d: idempotent rerun' % big, 'raw ldap3', dt, req)

    def module_rss(self, name, args):
        """Peak RSS (MiB) of the module process alone and its result."""
        dummy, rss, r = self.module_measured(name, args)
        return rss, r

    def module_measured(self, name, args, profile=None, code=None):
        """The module as one process, as Ansible runs it, through a wrapper that reports its wall seconds and peak
        RSS (MiB, the child's rusage; nothing else is the wrapper's child). ``profile``: a cProfile output file
        (the run is then slower: time it without)."""
        path = self.args_file(args)
        prof = ['-m', 'cProfile', '-o', profile] if profile else []
        code = code or CODE
        p = subprocess.run([sys.executable, '-c', MODULE_WRAPPER, sys.executable] + prof +
                           [os.path.join(code['root'], 'plugins', 'modules', name + '.py'), path],
                           capture_output=True, text=True, check=True,
                           env=dict(self.env, PYTHONPATH=code['collections']))
        w = json.loads(p.stdout)
        try:
            r = json.loads(w['out'])
        except ValueError:
            raise RuntimeError('%s printed no JSON (rc %s): %s' % (name, w['rc'], w['err']))
        if r.get('failed'):
            raise RuntimeError('%s failed: %s' % (name, r.get('msg')))
        return w['seconds'], w['rss'] / 1024.0, r

    def raw_estate(self, sub, count, prefix, groups):
        """The floor: raw_ldap3.py estate (one search for the principals, paged search, one add per missing)."""
        env = dict(self.env, BENCH_PATH=sub)
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, os.path.join(HERE, 'raw_ldap3.py'), 'estate', str(count), prefix] +
                           list(groups), capture_output=True, text=True, env=env, check=False)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError('raw_ldap3 estate failed: %s' % p.stderr[-1500:])
        return dt, int(p.stdout.strip().splitlines()[-1])

    def profiled(self, label, name, args):
        """cProfile of one module process: results/profile-<label>.txt (top functions by cumulative time, then
        by own time); the .prof file stays in the temporary directory."""
        prof = os.path.join(self.tmp, label + '.prof')
        self.module_measured(name, args, profile=prof)
        import io
        import pstats
        out = io.StringIO()
        st = pstats.Stats(prof, stream=out)
        out.write('cProfile of the module process: %s. Code measured: %s. Lab DC: %s.\n\n'
                  % (label, measured_code(), self.lab['GMSA_LAB_REALM']))
        st.sort_stats('cumulative').print_stats(60)
        st.sort_stats('tottime').print_stats(30)
        text = out.getvalue().replace(REPO + '/', '').replace(os.path.dirname(ldap3_path()) + '/', '')
        os.makedirs(RESULTS, exist_ok=True)
        with open(os.path.join(RESULTS, 'profile-%s.txt' % label), 'w') as f:
            f.write(text)

    # ------------------------------------------------------------------ the first run and no-op, module vs floor
    def first_run_pairs(self, admin, count, groups, reps, profile):
        """List-form first run of ``count`` accounts as a module process, and the raw floor doing the same adds,
        alternating in this run (a fresh OU each): the 1.25x comparison."""
        tools = ['raw ldap3'] + [suffix for suffix, code in codes()]
        for rep in range(reps):
            for tool in (tools if rep % 2 == 0 else tools[::-1]):
                prefix = 'f%d%d' % (tools.index(tool), rep)
                sub = 'OU=%s,%s' % (prefix, self.ou)
                admin.add(sub, 'organizationalUnit')
                if tool != 'raw ldap3':
                    accounts = self.estate_accounts(count, prefix, sub, groups)
                    dt, rss, r = self.module_measured('gmsa', dict(accounts=accounts), code=dict(codes())[tool])
                    assert r['changed'] and len(r['results']) == count
                    self.record('estate %d: first run' % count, 'list module process' + tool, dt,
                                r.get('ldap_requests'))
                else:
                    dt, req = self.raw_estate(sub, count, prefix, groups)
                    self.record('estate %d: first run' % count, 'raw ldap3', dt, req)
        if profile:
            prefix = 'fp'
            sub = 'OU=%s,%s' % (prefix, self.ou)
            admin.add(sub, 'organizationalUnit')
            accounts = self.estate_accounts(count, prefix, sub, groups)
            self.profiled('first-run-%d' % count, 'gmsa', dict(accounts=accounts))

    def noop_module(self, count, accounts, reps, profile):
        """The list-form no-op rerun as a module process: seconds (reps), peak RSS, requests; a profile."""
        case = 'estate %d: idempotent rerun' % count
        for dummy in range(reps):
            for suffix, code in codes():
                dt, rss, r = self.module_measured('gmsa', dict(accounts=accounts), code=code)
                assert not r['changed'], [x for x in r['results'] if x.get('changed')][:1]
                self.record(case, 'list module process' + suffix, dt, r.get('ldap_requests'))
                self.requests[(case, 'list task' + suffix)] = r.get('ldap_requests')
                key = '%d%s' % (count, suffix) if suffix else count
                self.rss_by_count[key] = max(rss, self.rss_by_count.get(key, 0))
        if profile:
            self.profiled('noop-%d' % count, 'gmsa', dict(accounts=accounts))

    # ------------------------------------------------------------------ the 10,000-account estate
    def huge_estate(self, admin, count, reps, profile, workers):
        """A persistent estate of ``count`` gMSAs (OU=estate-<count> under the base DN, kept between runs on the
        benchmark's own DC): created once by raw ldap3 in parallel connections (timed), then the list-form no-op
        rerun as a module process (wall seconds, peak RSS), as ansible-playbook, and the raw floor's no-op."""
        base = self.lab['GMSA_LAB_BASE_DN']
        sub = 'OU=estate-%d,%s' % (count, base)
        prefix = 'ex' if count == 10000 else 'es%d' % count   # sAMAccountNames are unique in the domain
        groups = ['e%dhosts-a' % count, 'e%dhosts-b' % count]
        admin.add(sub, 'organizationalUnit')     # already there: entryAlreadyExists, fine
        for g in groups:
            admin.add('CN=%s,%s' % (g, sub), 'group', {'sAMAccountName': g, 'groupType': -2147483646})
        have = count_accounts(admin, sub)
        record = os.path.join(self.lab['GMSA_LAB_DIR'], 'estate-%d.json' % count)   # how it was created
        if have < count:
            env = dict(self.env, BENCH_PATH=sub)
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, os.path.join(HERE, 'raw_ldap3.py'), 'fill', str(count), prefix,
                                str(workers)] + groups, capture_output=True, text=True, env=env, check=False)
            if p.returncode != 0:
                raise RuntimeError('raw_ldap3 fill failed: %s' % p.stderr[-1500:])
            fill = dict(seconds=time.perf_counter() - t0, workers=workers, when=time.strftime('%Y-%m-%d'),
                        added=int(p.stdout.strip().splitlines()[-1]))
            with open(record, 'w') as f:
                json.dump(fill, f)
        if os.path.exists(record):
            with open(record) as f:
                self.fills[count] = json.load(f)
        accounts = self.estate_accounts(count, prefix, sub, groups)
        self.noop_module(count, accounts, reps, profile)
        extra = os.path.join(self.tmp, 'huge.json')
        with open(extra, 'w') as f:
            json.dump(dict(estate=accounts), f)
        for dummy in range(reps):
            for suffix, code in codes():
                dt, out = self.playbook('huge', self.LIST_PB, extra, code=code)
                self.record('estate %d: idempotent rerun' % count, 'list task' + suffix, dt)
            dt, req = self.raw_estate(sub, count, prefix, groups)
            self.record('estate %d: idempotent rerun' % count, 'raw ldap3', dt, req)
        self.huge_path = sub

    def targets(self, admin, count, sizes, workers):
        """The object engine's measured targets: the list-form first run of ``count`` accounts against the raw floor
        in this run, and the no-op rerun of each persistent estate in ``sizes``."""
        groups = []
        for g in ('thosts-a', 'thosts-b'):
            admin.add('CN=%s,%s' % (g, self.ou), 'group', {'sAMAccountName': g, 'groupType': -2147483646})
            groups.append(g)
        if count:
            self.first_run_pairs(admin, count, groups, self.reps, self.profile)
        for size in sizes:
            self.huge_estate(admin, size, self.reps, self.profile, workers)

    def estate_accounts(self, count, prefix, sub, groups):
        accounts = []
        for i in range(count):
            n = '%s%05d' % (prefix, i)
            dns = '%s.bench.test' % n
            accounts.append(dict(name=n, path=sub, dns_hostname=dns, spn=dict(set=['http/' + dns, 'http/' + n]),
                                 allowed_to_retrieve_password=dict(set=list(groups))))
        return accounts


def write_estate(b, meta):
    """The estate table (results/estate.md) and chart (results/estate.png)."""
    os.makedirs(RESULTS, exist_ok=True)
    tools = ['list task', 'list module process', 'per-account loop', 'samba-tool (extrapolated)', 'raw ldap3']
    cases = []
    for (case, tool) in b.times:
        if case.startswith('estate') and case not in cases:
            cases.append(case)
    if not cases:
        return
    lines = ['# Estate benchmark', '',
             'Each account: 2 SPNs, 2 allowed principals. Wall seconds (medians) of `ansible-playbook` (list task, '
             'per-account loop), of the list-form module process alone (run with its arguments as Ansible runs it; '
             'first runs alternate with the floor in the same run), of the minimal ldap3 script doing the same LDAP '
             'work (the floor), and samba-tool measured on %d accounts (create, 2 spn add, 2 group-msa-membership '
             'add each) and extrapolated. Lab DC: Samba %s, %s. Code measured: %s.'
             % (meta.get('samba_sample', 0), meta['samba'], meta['machine'], meta.get('code', '?')), '',
             '| case | %s | list task / raw | module process / raw | LDAP requests list task / raw |'
             % ' | '.join(tools),
             '|---|%s---|---|---|' % ('---|' * len(tools))]
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
        ratios = ['%.2f×' % (vals[t] / vals['raw ldap3']) if t in vals and 'raw ldap3' in vals else '—'
                  for t in ('list task', 'list module process')]
        req = '%s / %s' % (b.requests.get((case, 'list task'), '—'), b.requests.get((case, 'raw ldap3'), '—'))
        lines.append('| %s | %s | %s | %s |' % (case, ' | '.join(cells), ' | '.join(ratios), req))
        rows.append(dict(case=case, seconds=vals))
    for count, rss in sorted(b.rss_by_count.items()):
        lines += ['', 'Peak RSS of the module process for the %d-account no-op: %.0f MiB.' % (count, rss)]
    with open(os.path.join(RESULTS, 'estate.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(RESULTS, 'estate.json'), 'w') as f:
        counted = dict(('%s|%s' % k, v) for k, v in b.requests.items() if k[0].startswith('estate'))
        json.dump(dict(meta=meta, rows=rows, requests=counted), f, indent=1)
    bar_chart(b, cases, tools, 'seconds (log scale)',
              'A whole estate: one list task vs a per-account loop vs samba-tool vs the raw LDAP floor', 'estate.png')


TARGETS = dict(first_ratio=1.25, noop_1000=5.0, noop_10000=30.0, rss_10000=256.0)


def measured_code(code=None):
    """The commit the module code came from (and whether plugins/ had uncommitted changes)."""
    code = CODE if code is None else code
    if code['label']:
        return code['label']
    where = code['root']

    def git(*args):
        return subprocess.run(['git'] + list(args), capture_output=True, text=True, cwd=where,
                              check=False).stdout.strip()
    head = git('rev-parse', '--short', 'HEAD')
    log = git('log', '-1', '--format=%h %cd %s', '--date=short', '--', 'plugins')
    dirty = git('status', '--porcelain', 'plugins')
    return 'plugins/ at %s... (checkout %s)%s' % (log[:80], head,
                                                  ', with uncommitted changes in plugins/' if dirty else '')


def target_rows(b, count, sizes, suffix=''):
    """(what, measured text, target text, met) for results/targets.md; ``suffix``: the --versus code's rows."""
    med = dict((k, statistics.median(v)) for k, v in b.times.items())
    rows = []
    first = 'estate %d: first run' % count
    m, r = med.get((first, 'list module process' + suffix)), med.get((first, 'raw ldap3'))
    if m and r:
        rows.append(('list-form first run of %d gMSAs: module process / raw ldap3 floor, same run' % count,
                     '%.2f× (%.2f s / %.2f s)' % (m / r, m, r), '≤ %.2f×' % TARGETS['first_ratio'],
                     m / r <= TARGETS['first_ratio']))
    for size in sizes:
        case = 'estate %d: idempotent rerun' % size
        pb, mod = med.get((case, 'list task' + suffix)), med.get((case, 'list module process' + suffix))
        raw = med.get((case, 'raw ldap3'))
        limit = TARGETS.get('noop_%d' % size)
        if pb:
            rows.append(('%d-gMSA no-op rerun, ansible-playbook wall' % size, '%.2f s' % pb,
                         '≤ %.0f s' % limit if limit else '—', pb <= limit if limit else None))
        if mod:
            rows.append(('%d-gMSA no-op rerun, module process alone' % size,
                         '%.2f s (raw ldap3 floor %.2f s)' % (mod, raw or 0), '—', None))
        key = '%d%s' % (size, suffix) if suffix else size
        if key in b.rss_by_count:
            limit = TARGETS.get('rss_%d' % size)
            rows.append(('%d-gMSA no-op rerun, module peak RSS' % size, '%.0f MiB' % b.rss_by_count[key],
                         '≤ %.0f MiB' % limit if limit else '—', b.rss_by_count[key] <= limit if limit else None))
        req = b.requests.get((case, 'list task' + suffix))
        if req is not None:
            rows.append(('%d-gMSA no-op rerun, LDAP requests after the bind (module / raw)' % size,
                         '%s / %s' % (req, b.requests.get((case, 'raw ldap3'), '—')), '—', None))
    return rows


def write_targets(b, meta, count, sizes):
    os.makedirs(RESULTS, exist_ok=True)
    lines = ['# Object engine targets', '',
             'Code measured: %s. Lab DCs: the benchmark\'s own Samba %s DCs on this machine (%s), one domain per '
             'estate size (%s), each holding only its estate and the run\'s temporary OU (a no-op that reads every '
             'managed service account of the domain reads that estate); the first run on the smallest. %d repetitions, '
             'medians. Each account: 2 SPNs, 2 allowed principals. Module process: the gmsa module run with its '
             'arguments as Ansible runs it, timed and its peak RSS read (rusage) by a wrapper; ansible-playbook: a '
             'one-task playbook with the list in extra vars (its own start-up is about 1.7 s).'
             % (meta['code'], meta['samba'], meta['machine'],
                ', '.join('%d: %s' % (k, v) for k, v in sorted(meta.get('realms', {}).items())), b.reps), '',
             '| what | measured | target | met |', '|---|---|---|---|']
    for what, value, target, met in target_rows(b, count, sizes):
        lines.append('| %s | %s | %s | %s |' % (what, value, target, '—' if met is None else ('yes' if met else 'no')))
    if VERSUS:
        lines += ['', 'Measured in the same run, alternating with the code above: %s.' % measured_code(VERSUS), '',
                  '| what | measured | target | met |', '|---|---|---|---|']
        for what, value, target, met in target_rows(b, count, sizes, ' [versus]'):
            lines.append('| %s | %s | %s | %s |' % (what, value, target,
                                                    '—' if met is None else ('yes' if met else 'no')))
    if meta.get('load'):
        lines += ['', 'Load average of this machine (1, 5, 15 min) at the start: %s, at the end: %s. The machine is '
                  'shared: the same code measured at another time differs by up to ~40 %%; compare numbers of one run.'
                  % tuple(', '.join('%.1f' % x for x in la) for la in meta['load'])]
    for size, fill in sorted(b.fills.items()):
        lines += ['', 'The %d-account estate was created on %s by raw ldap3 (`raw_ldap3.py fill`, %d connections '
                  'in parallel) in %.0f s (%d adds, %.0f ms each) and stays on the benchmark DC between runs.'
                  % (size, fill.get('when', '?'), fill['workers'], fill['seconds'], fill['added'],
                     1000.0 * fill['seconds'] / max(1, fill['added']))]
    if b.profile:
        lines += ['', 'cProfile of the module process: `profile-*.txt` beside this file.']
    with open(os.path.join(RESULTS, 'targets.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(RESULTS, 'targets.json'), 'w') as f:
        json.dump(dict(meta=meta, raw=dict(('%s|%s' % k, v) for k, v in b.times.items()),
                       requests=dict(('%s|%s' % k, v) for k, v in b.requests.items()),
                       rss_mib=b.rss_by_count, fills=b.fills), f, indent=1)


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


def ldap3_path():
    import ldap3
    return os.path.dirname(ldap3.__file__)


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
    ap.add_argument('--own-dc', action='store_true',
                    help='the benchmark\'s own lab DC (BENCHLAB.TEST on 127.0.0.13, .lab-bench), not the shared one')
    ap.add_argument('--targets', action='store_true',
                    help='only the object engine\'s targets (implies --own-dc): a %d-account first run against '
                    'the raw floor, the no-op rerun of persistent 1000- and 10,000-account estates; '
                    'results/targets.md' % 100)
    ap.add_argument('--target-sizes', default='1000,10000', help='the persistent estates of --targets')
    ap.add_argument('--profile', action='store_true', help='cProfile the module process: results/profile-*.txt')
    ap.add_argument('--fill-workers', type=int, default=2, help='parallel connections creating an estate')
    ap.add_argument('--code', help='measure the collection checked out at this folder instead of this checkout')
    ap.add_argument('--code-label', help='what --code is (for the tables), when that folder is not a git checkout')
    ap.add_argument('--versus', help='with --targets: a second checkout measured beside it, alternating in one run')
    ap.add_argument('--versus-label', help='what --versus is, when that folder is not a git checkout')
    a = ap.parse_args()
    if a.code:
        use_code(a.code, a.code_label)
    if a.versus:
        use_code(a.versus, a.versus_label, into=VERSUS)
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
    if a.targets:
        run_targets(a)
        return
    lab = lab_env(a.own_dc)
    admin = admin_conn(lab)
    if a.own_dc:    # never on the shared DC, whose keys belong to the tests
        ensure_kds_root_key(lab, admin)
    ou = 'OU=bench-%s,%s' % (uuid.uuid4().hex[:8], lab['GMSA_LAB_BASE_DN'])
    admin.add(ou, 'organizationalUnit')
    reps = 1 if a.quick else a.reps
    b = Bench(lab, ou, reps)
    b.quick = a.quick
    b.profile = a.profile
    hosts = []
    try:
        for i in range(51):
            sam = 'bh%03d' % i
            admin.add('CN=%s,%s' % (sam, ou), ['top', 'person', 'organizationalPerson', 'user', 'computer'],
                      {'sAMAccountName': sam + '$', 'userAccountControl': 0x1000})
            hosts.append(sam + '$')
        meta = run_meta(lab, reps, a.quick)
        if not a.estate_only:
            b.single_operations(hosts)
        if not a.quick and not a.estate_only:
            b.info_1000(admin, a.info_accounts)
        if not a.quick:
            b.estate(admin, a.loop_accounts, a.big_accounts, a.samba_sample)
            meta.update(samba_sample=a.samba_sample, big=a.big_accounts, rss_mib=b.rss_by_count.get(a.big_accounts))
            write_estate(b, meta)
            print(open(os.path.join(RESULTS, 'estate.md')).read())
        if not a.estate_only:
            write_results(b, meta)
            print(open(os.path.join(RESULTS, 'benchmark.md')).read())
    finally:
        delete_tree(admin, ou)


def run_meta(lab, reps, quick=False):
    version = subprocess.run(['samba', '--version'], capture_output=True, text=True, check=True).stdout
    return dict(samba=version.split()[1], realm=lab['GMSA_LAB_REALM'], code=measured_code(),
                machine='%d cores' % os.cpu_count(), reps=reps, quick=quick)


def delete_tree(admin, ou):
    import ldap3
    found = admin.extend.standard.paged_search(ou, '(objectClass=*)', search_scope=ldap3.SUBTREE, attributes=['1.1'],
                                               paged_size=1000, generator=True)
    dns = [e['dn'] for e in found if e.get('type') == 'searchResEntry']
    for d in sorted(set(dns), key=lambda x: -x.count(',')):
        admin.delete(d)


def own_dc_for(size, largest):
    """The largest estate lives on the benchmark's DC (.lab-bench); each smaller one on a DC of its own, so that
    a domain holds only its estate (the list form's no-op may read every managed service account of the domain).
    They take turns on the benchmark's address."""
    if size == largest:
        return dict(OWN_DC)
    return dict(OWN_DC, GMSA_LAB_DIR=os.path.join(LAB_ROOT, '.lab-bench-%d' % size),
                GMSA_LAB_REALM='BENCH%d.TEST' % size, GMSA_LAB_DOMAIN='BENCH%d' % size)


def run_targets(a):
    """--targets: each estate size on its own benchmark DC, one DC up at a time; the first-run comparison on the
    smallest. The last DC stays up (stop it with tests/lab/dc.sh down and its settings, printed)."""
    sizes = sorted(int(x) for x in a.target_sizes.split(',') if x)
    load_before = os.getloadavg()
    total = Bench.__new__(Bench)
    total.times, total.requests, total.rss_by_count, total.fills = {}, {}, {}, {}
    total.reps, total.profile, realms = a.reps, a.profile, {}
    for n, size in enumerate(sizes):
        settings = own_dc_for(size, sizes[-1])
        for other in sizes:     # the DCs share the address: the others stop first
            if other != size and os.path.isdir(own_dc_for(other, sizes[-1])['GMSA_LAB_DIR']):
                dc_down(own_dc_for(other, sizes[-1]))
        lab = lab_env(settings=settings)
        admin = admin_conn(lab)
        ensure_kds_root_key(lab, admin)
        ou = 'OU=bench-%s,%s' % (uuid.uuid4().hex[:8], lab['GMSA_LAB_BASE_DN'])
        admin.add(ou, 'organizationalUnit')
        b = Bench(lab, ou, a.reps)
        b.profile = a.profile
        try:
            b.targets(admin, a.loop_accounts if n == 0 else 0, [size], a.fill_workers)
        finally:
            delete_tree(admin, ou)
            admin.unbind()
        for k in ('times', 'requests', 'rss_by_count', 'fills'):
            getattr(total, k).update(getattr(b, k))
        realms[size] = lab['GMSA_LAB_REALM']
        meta = run_meta(lab, a.reps)
    meta.update(realms=realms, load=[load_before, os.getloadavg()])
    write_targets(total, meta, a.loop_accounts, sizes)
    print(open(os.path.join(RESULTS, 'targets.md')).read())
    print('The benchmark DC is still up; stop it with: %s bash tests/lab/dc.sh down'
          % ' '.join('%s=%s' % kv for kv in sorted(settings.items())))


def dc_down(settings):
    subprocess.run(['bash', os.path.join(REPO, 'tests', 'lab', 'dc.sh'), 'down'], capture_output=True, text=True,
                   check=True, env=dict(os.environ, **settings))


if __name__ == '__main__':
    main()
