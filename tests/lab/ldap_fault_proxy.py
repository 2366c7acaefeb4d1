"""A fault-injecting LDAPS proxy in front of the lab DC, for answers only a Windows DC gives.

It listens on a loopback port with its own certificate (a throw-away CA made here), connects to the lab DC over
LDAPS, and forwards every LDAP message both ways, except requests that match a rule: those are answered by the
proxy itself with the rule's result code, and never reach the DC. Tests use it to prove how the collection
handles refusals Samba never gives (a value delete of a security descriptor refused, a write refused after
others succeeded, a DC that answers every search with an error), and a DC that stops answering: a rule can
swallow a request, or forward it and swallow the DC's answer (the write is applied, its answer never comes), or
forward a search and cut its answer short with sizeLimitExceeded after some entries (as Windows does past its
MaxPageSize). Loopback only; every connection and the listener close when the test ends.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ldap3.protocol.rfc4511 import (
    LDAPDN, LDAPMessage, LDAPString, MessageID, ModifyResponse, ProtocolOp, ResultCode,
)
from pyasn1.codec.ber import decoder, encoder

RESPONSES = {'modifyRequest': 'modifyResponse', 'addRequest': 'addResponse', 'delRequest': 'delResponse',
             'modDNRequest': 'modDNResponse', 'searchRequest': 'searchResDone'}
CHANGE_OPS = {0: 'add', 1: 'delete', 2: 'replace'}


def _certificates(directory):
    """A CA and a server certificate for localhost / 127.0.0.1; returns (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'gmsa.farm fault proxy CA')])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'),
                                                        x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, n) for n in ('proxy-ca.pem', 'proxy-cert.pem', 'proxy-key.pem')]
    with open(paths[0], 'wb') as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], 'wb') as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], 'wb') as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


# BER tags of the write requests (RFC 4511: [APPLICATION 6] modify, 8 add, 10 delete, 12 modDN).
WRITE_TAGS = {0x66, 0x68, 0x4A, 0x6C}
SEARCH_TAG = 0x63   # [APPLICATION 3]: decoded only while a rule answers searches (a DC that fails a read)
SEARCH_ENTRY_TAG, SEARCH_DONE_TAG = 0x64, 0x65     # [APPLICATION 4] searchResEntry, [APPLICATION 5] searchResDone


def _op_tag(data):
    """The protocolOp tag of an encoded LDAPMessage: after the SEQUENCE header and the messageID INTEGER."""
    i = 2 + ((data[1] & 0x7F) if data[1] & 0x80 else 0)
    i += 2 + data[i + 1]        # messageID: tag, one length byte (IDs below 2^1008), value
    return data[i]


def _ber_length(data, i):
    """(length, index of the value) of the BER length at data[i]."""
    if data[i] & 0x80:
        n = data[i] & 0x7F
        return int.from_bytes(data[i + 1:i + 1 + n], 'big'), i + 1 + n
    return data[i], i + 1


def _message_id(data):
    """The messageID of an encoded LDAPMessage (a request or a response)."""
    _length, i = _ber_length(data, 1)
    id_length, i = _ber_length(data, i + 1)
    return int.from_bytes(data[i:i + id_length], 'big')


def _search_head(data):
    """(messageID, baseObject) of an encoded searchRequest, read by hand: pyasn1 with ldap3's recursive Filter
    spec cannot decode every filter (an AND of equality matches among them)."""
    _length, i = _ber_length(data, 1)            # the LDAPMessage SEQUENCE
    id_length, i = _ber_length(data, i + 1)      # messageID INTEGER
    message_id = int.from_bytes(data[i:i + id_length], 'big')
    i += id_length
    _length, i = _ber_length(data, i + 1)        # [APPLICATION 3] searchRequest
    base_length, i = _ber_length(data, i + 1)    # baseObject OCTET STRING
    return message_id, data[i:i + base_length].decode('utf-8')


def _read_message(sock):
    """One BER-encoded LDAPMessage from a stream (None at EOF)."""
    head = _read_exact(sock, 2)
    if head is None:
        return None
    length = head[1]
    extra = b''
    if length & 0x80:
        extra = _read_exact(sock, length & 0x7F)
        length = int.from_bytes(extra, 'big')
    body = _read_exact(sock, length)
    return head + extra + body


def _read_exact(sock, n):
    data = b''
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class Rule(object):
    """Answer requests of ``operation`` (a write, or 'searchRequest' by its base DN) on ``dn`` (exactly; or whose DN
    contains ``dn_part``) - for a modify,
    optionally only those deleting a value of ``delete_value_of``, or only those changing ``changes`` (an
    attribute, by any operation) - with ``result_code``, ``times`` times (None: always), after letting the first
    ``skip`` matching requests through. ``before_answer()`` runs first (to make a concurrent change, say).

    ``drop='request'``: the request is swallowed, nothing answers it; ``drop='answer'``: it is forwarded (the DC
    applies a write) and the DC's answer is swallowed. ``keep=N`` (searches): forwarded, and the answer cut after
    N entries with ``result_code`` (sizeLimitExceeded, 4) in the searchResDone."""

    def __init__(self, operation, result_code=None, dn=None, dn_part='', delete_value_of=None, times=1,
                 message='injected', before_answer=None, changes=None, skip=0, drop=None, keep=None):
        assert drop in (None, 'request', 'answer') and (result_code is not None or drop)
        self.drop, self.keep = drop, keep
        self.operation, self.result_code, self.dn_part = operation, result_code, dn_part.lower()
        self.dn = dn.lower() if dn else None
        self.delete_value_of = delete_value_of.lower() if delete_value_of else None
        self.changes = changes.lower() if changes else None
        self.times, self.message, self.before_answer = times, message, before_answer
        self.hits = 0
        self.skip = skip

    def matches(self, operation, dn, request):
        if not self._matches(operation, dn, request):
            return False
        if self.skip:
            self.skip -= 1
            return False
        return True

    def _matches(self, operation, dn, request):
        if operation != self.operation or self.dn_part not in dn.lower() or (self.dn and dn.lower() != self.dn):
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        if self.changes and not any(str(c['modification']['type']).lower() == self.changes
                                    for c in request['changes']):
            return False
        if self.delete_value_of:
            return any(CHANGE_OPS[int(c['operation'])] == 'delete' and
                       str(c['modification']['type']).lower() == self.delete_value_of and
                       len(c['modification']['vals']) > 0 for c in request['changes'])
        return True


class FaultProxy(object):
    def __init__(self, upstream_host, upstream_port, upstream_ca, workdir):
        self.upstream = (upstream_host, upstream_port)
        self.upstream_ctx = ssl.create_default_context(cafile=upstream_ca)
        self.upstream_ctx.check_hostname = False          # the DC's name is checked by the lab, not here
        self.ca, cert, key = _certificates(workdir)
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(cert, key)
        self.rules = []
        self.seen = []          # (operation, dn, what) of every write request (and, while a rule answers searches,
        #                         every search) that passed through or was answered
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(('127.0.0.1', 0))
        self._listener.listen(8)
        self._listener.settimeout(0.5)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._sockets = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass

    def _serve(self):
        while not self._stop.is_set():
            try:
                raw, _addr = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw):
        try:
            client = self.server_ctx.wrap_socket(raw, server_side=True)
            upstream = self.upstream_ctx.wrap_socket(socket.create_connection(self.upstream, timeout=30))
        except (OSError, ssl.SSLError):
            raw.close()
            return
        # From here on both sides block: an idle connection must not end the pump (close() ends them).
        upstream.settimeout(None)
        client.settimeout(None)
        self._sockets += [client, upstream]
        lock = threading.Lock()
        held = {}       # messageID -> the rule that handles the DC's answer to it (drop it, or cut it short)
        threading.Thread(target=self._pump, args=(upstream, client, lock, held), daemon=True).start()
        try:
            while not self._stop.is_set():
                data = _read_message(client)
                if data is None:
                    break
                action, reply = self._intercept(data, held)
                if action == 'reply':
                    with lock:
                        client.sendall(reply)
                elif action == 'forward':
                    upstream.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            for s in (client, upstream):
                try:
                    s.close()
                except OSError:
                    pass

    def _pump(self, src, dst, lock, held):
        try:
            while True:
                data = _read_message(src)
                if data is None:
                    break
                data = self._answer(data, held)
                if data is not None:
                    with lock:
                        dst.sendall(data)
        except (OSError, ssl.SSLError):
            pass

    def _answer(self, data, held):
        """What the client gets of one message from the DC: it as it is, nothing, or a cut-short searchResDone."""
        message_id = _message_id(data)
        state = held.get(message_id)
        if state is None:
            return data
        rule = state['rule']
        if rule.drop == 'answer':
            return None
        tag = _op_tag(data)
        if tag == SEARCH_ENTRY_TAG:
            state['passed'] += 1
            return data if state['passed'] <= rule.keep else None
        if tag == SEARCH_DONE_TAG:
            del held[message_id]
            return self._response(message_id, 'searchResDone', rule.result_code, rule.message)
        return data

    def _intercept(self, data, held):
        """('forward', None), ('reply', bytes) or ('drop', None) for one request from the client."""
        tag = _op_tag(data)
        searched = tag == SEARCH_TAG and any(r.operation == 'searchRequest' for r in self.rules)
        if tag not in WRITE_TAGS and not searched:
            return 'forward', None      # binds, searches, extended operations: forwarded undecoded
        if searched:
            message_id, dn = _search_head(data)
            request, op = None, 'searchRequest'
        else:
            message, _rest = decoder.decode(data, asn1Spec=LDAPMessage())
            op = message['protocolOp'].getName()
            if op not in RESPONSES:
                return 'forward', None
            request = message['protocolOp'].getComponent()
            message_id = int(message['messageID'])
            dn = str(request['object'] if op in ('modifyRequest',) else request['entry'] if op in
                     ('addRequest', 'modDNRequest') else request)
        for rule in self.rules:
            if rule.matches(op, dn, request):
                rule.hits += 1
                if rule.before_answer is not None:
                    rule.before_answer()
                return self._apply(rule, op, dn, message_id, held)
        self.seen.append((op, dn, 'forwarded'))
        return 'forward', None

    def _apply(self, rule, op, dn, message_id, held):
        if rule.drop == 'request':
            self.seen.append((op, dn, 'request dropped'))
            return 'drop', None
        if rule.drop == 'answer' or rule.keep is not None:
            held[message_id] = dict(rule=rule, passed=0)
            self.seen.append((op, dn, 'answer dropped' if rule.drop else 'cut after %d' % rule.keep))
            return 'forward', None
        self.seen.append((op, dn, 'answered %d' % rule.result_code))
        return 'reply', self._response(message_id, RESPONSES[op], rule.result_code, rule.message)

    @staticmethod
    def _response(message_id, name, code, text):
        resp = ModifyResponse()          # every LDAPResult-shaped response has these three components
        resp['resultCode'] = ResultCode(code)
        resp['matchedDN'] = LDAPDN('')
        resp['diagnosticMessage'] = LDAPString(text)
        op = ProtocolOp()
        component = op.getComponentType().getTypeByPosition(op.getComponentType().getPositionByName(name)).clone()
        for key in ('resultCode', 'matchedDN', 'diagnosticMessage'):
            component[key] = resp[key]
        op.setComponentByName(name, component)
        message = LDAPMessage()
        message['messageID'] = MessageID(message_id)
        message['protocolOp'] = op
        return encoder.encode(message)
