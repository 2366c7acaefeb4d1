"""Lab helper: is a service ticket accepted by a GSSAPI acceptor bound to an explicit principal name?

    python gss_accept.py CCACHE KEYTAB PRINCIPAL

The initiator uses the ticket cache CCACHE (a cached ticket for PRINCIPAL is used as it is; otherwise the KDC issues
one), the acceptor only the keys of PRINCIPAL in KEYTAB. Named like this, MIT krb5 looks the key up by the ticket's
kvno and encryption type and refuses a ticket whose kvno the keytab lacks ("Cannot find key ... kvno N"), unlike
``kvno -k``. Prints one JSON line: {"accepted": bool, "error": text}. Lab tooling only.
"""
from __future__ import annotations

import json
import sys

import gssapi


def main(ccache, keytab, principal):
    name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
    try:
        initiator = gssapi.SecurityContext(
            name=name, usage='initiate', mech=gssapi.MechType.kerberos,
            creds=gssapi.Credentials(usage='initiate', store={'ccache': ccache}))
        token = initiator.step()
        acceptor = gssapi.SecurityContext(
            usage='accept', creds=gssapi.Credentials(name=name, usage='accept', store={'keytab': keytab}))
        acceptor.step(token)
        print(json.dumps(dict(accepted=acceptor.complete, error='', initiator=str(acceptor.initiator_name))))
    except gssapi.exceptions.GSSError as e:
        print(json.dumps(dict(accepted=False, error=str(e))))


if __name__ == '__main__':
    main(*sys.argv[1:4])
