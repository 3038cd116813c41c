#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the real vectors
(crates/attest/tests/fixtures/vectors.json), the SyncML and .reg samples of
crates/policy/tests, and a few hand-made blobs. Deterministic but for the pki seeds, which
openssl makes with a fresh key each time; rerun after changing it."""
import subprocess
import tempfile
import base64, hashlib, json, os, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def b64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def cbor(data, i=0):
    """Minimal CBOR decoder (major types 0-5, 7 simple): returns (value, next index)."""
    ib = data[i]; major, info = ib >> 5, ib & 31; i += 1
    if info < 24: n = info
    elif info == 24: n = data[i]; i += 1
    elif info == 25: n = struct.unpack(">H", data[i:i+2])[0]; i += 2
    elif info == 26: n = struct.unpack(">I", data[i:i+4])[0]; i += 4
    elif info == 27: n = struct.unpack(">Q", data[i:i+8])[0]; i += 8
    else: raise ValueError("indefinite")
    if major == 0: return n, i
    if major == 1: return -1 - n, i
    if major == 2: return bytes(data[i:i+n]), i + n
    if major == 3: return data[i:i+n].decode(), i + n
    if major == 4:
        out = []
        for _ in range(n):
            v, i = cbor(data, i); out.append(v)
        return out, i
    if major == 5:
        out = {}
        for _ in range(n):
            k, i = cbor(data, i); v, i = cbor(data, i); out[k] = v
        return out, i
    return n, i


def u16(b):
    return struct.pack(">H", len(b)) + b


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    vectors = json.load(open(os.path.join(ROOT, "crates/attest/tests/fixtures/vectors.json")))
    regs = [v for v in vectors if v["kind"] == "registration"]
    auths = [v for v in vectors if v["kind"] == "authentication"]
    for idx, v in enumerate(regs):
        r = v["response"]["response"]
        cdj, ao = b64u(r["clientDataJSON"]), b64u(r["attestationObject"])
        write("registration", v["id"], bytes([idx]) + u16(cdj) + ao)
        write("clientdata", v["id"], cdj)
        obj, _ = cbor(ao)
        write("authdata", v["id"], obj["authData"])
        stmt = obj["attStmt"]
        x5c = stmt.get("x5c") or []
        if x5c:
            write("x509_chain", v["id"], b"".join(u16(c) for c in x5c))
        if "certInfo" in stmt:
            write("tpm", v["id"] + "-attest", b"\x00" + stmt["certInfo"])
            write("tpm", v["id"] + "-public", b"\x01" + stmt["pubArea"])
    for idx, v in enumerate(auths):
        r = v["response"]["response"]
        cdj, ad, sig = (b64u(r[k]) for k in ("clientDataJSON", "authenticatorData", "signature"))
        write("assertion", v["id"], bytes([idx]) + u16(cdj) + u16(ad) + sig)
        write("authdata", v["id"], ad)
        write("cose_key", v["id"], b64u(v["credential_public_key_cose_b64url"]))

    # SyncML: the seed example, a full message with commands of every kind.
    seed = open(os.path.join(ROOT, "crates/policy/tests/fixtures/seed_passportforwork_example.xml"), "rb").read()
    write("syncml", "seed_passportforwork_example.xml", seed)
    dev = f"./Device/Vendor/MSFT/PassportForWork/{TENANT}/Policies/"
    def cmd(kind, i, uri, fmt=None, data=None):
        meta = f'<Meta><Format xmlns="syncml:metinf">{fmt}</Format><Type>text/plain</Type></Meta>' if fmt else ""
        d = f"<Data>{data}</Data>" if data is not None else ""
        return f"<{kind}><CmdID>{i}</CmdID><Item><Target><LocURI>{uri}</LocURI></Target>{meta}{d}</Item></{kind}>"
    def msg(body):
        return ('<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>'
                '<SessionID>7</SessionID><MsgID>3</MsgID><Target><LocURI>https://latchkey.example/policy</LocURI>'
                f'</Target><Source><LocURI>admin-tool</LocURI></Source></SyncHdr><SyncBody>{body}<Final/></SyncBody></SyncML>')
    write("syncml", "replace-get.xml", msg(
        cmd("Add", 1, f"./Device/Vendor/MSFT/PassportForWork/{TENANT}", "node")
        + cmd("Replace", 2, dev + "UsePassportForWork", "bool", "true")
        + cmd("Replace", 3, dev + "PINComplexity/MinimumPINLength", "int", "6")
        + cmd("Get", 4, "./Device/Vendor/MSFT/PassportForWork")
        + cmd("Delete", 5, dev + "PINComplexity/MinimumPINLength")).encode())
    write("syncml", "atomic-sequence.xml", msg(
        "<Atomic><CmdID>1</CmdID>" + cmd("Replace", 2, dev + "RequireSecurityDevice", "bool", "true")
        + "<Sequence><CmdID>3</CmdID>" + cmd("Replace", 4, dev + "PINComplexity/Digits", "int", "1")
        + "</Sequence></Atomic>" + '<Alert><CmdID>9</CmdID><Data>1201</Data></Alert>'
        + '<Status><CmdID>10</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>'
        + "<Exec><CmdID>11</CmdID></Exec><!-- c --><![CDATA[x]]>").encode())

    # .reg: the test file, UTF-8 and UTF-16LE with BOM.
    reg = ("Windows Registry Editor Version 5.00\n\n"
           "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\PassportForWork]\n"
           '"Enabled"=dword:00000001\n"RequireSecurityDevice"=dword:00000001\n\n'
           "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\PassportForWork\\PINComplexity]\n"
           '"MinimumPINLength"=dword:00000008\n"Digits"=dword:00000001\n"History"=dword:00000014\n\n'
           "[-HKEY_CURRENT_USER\\Software\\Policies\\Microsoft\\PassportForWork]\n"
           "[HKEY_CURRENT_USER\\Software\\Policies\\Microsoft\\PassportForWork]\n"
           '"Enabled"=dword:00000000\n"Other"=-\n"Name"="text"\n')
    write("regfile", "good-utf8.reg", reg.encode())
    write("regfile", "good-utf16le.reg", b"\xff\xfe" + reg.replace("\n", "\r\n").encode("utf-16-le"))

    # BCRYPT_RSAPUBLIC_BLOB (selector 0), KeyCredentialLink (1), base64url (2).
    modulus = bytes([0xC5]) + hashlib.sha256(b"m").digest() * 8  # 257 bytes, top bit set
    modulus = modulus[:256]
    exp = b"\x01\x00\x01"
    blob = struct.pack("<IIIIII", 0x31415352, len(modulus) * 8, len(exp), len(modulus), 0, 0) + exp + modulus
    write("proto_blobs", "rsa-blob", b"\x00" + blob)
    def entry(i, v):
        return struct.pack("<H", len(v)) + bytes([i]) + v
    key_id = hashlib.sha256(blob).digest()
    tail = (entry(0x03, blob) + entry(0x04, b"\x01") + entry(0x05, b"\x00") + entry(0x06, b"\x11" * 16)
            + entry(0x07, b"\x01\x00") + entry(0x08, struct.pack("<q", 0)) + entry(0x09, struct.pack("<q", 133000000000000000)))
    kcl = struct.pack("<I", 0x200) + entry(0x01, key_id) + entry(0x02, hashlib.sha256(tail).digest()) + tail
    write("proto_blobs", "kcl-blob", b"\x01" + kcl)
    write("proto_blobs", "b64url", b"\x02" + base64.urlsafe_b64encode(b"\xfb\xff latchkey").rstrip(b"="))

    # API request bodies, selector = index in fuzz_targets/api_json.rs.
    n, sig = "bm9uY2U", "c2ln"
    bodies = [
        {"upn": "alice@example.com", "password": "pw", "otp": "123456"},
        {"nonce": n, "display_name": "PC", "os": "Linux", "join_type": "cloud", "device_public_key": "AAAA", "signature": sig},
        {"device_id": "d1", "nonce": n, "signature": sig},
        {"device_id": "d1", "upn": "alice@example.com", "nonce": n, "public_key": {"alg": "RSA", "data": "AAAA"}, "device_signature": sig, "key_signature": sig},
        {"purpose": "policy_sync"},
        {"device_id": "d1", "upn": "", "nonce": n, "device_signature": sig},
        {"upn": "alice@example.com", "device_id": "d1", "key_id": "ab", "nonce": n, "assertion": sig, "device_signature": sig},
        {"prt": "p", "device_id": "d1", "nonce": n, "device_signature": sig},
        {"prt": "p", "audience": "https://app.example", "device_id": "d1", "nonce": n, "device_signature": sig},
        {"name": "key 1"},
        {"upn": "alice@example.com"},
        {"ceremony": "c", "name": "key 1", "credential": {"id": "aWQ", "response": {"clientDataJSON": "e30", "attestationObject": "oA"}}},
        {"ceremony": "c", "credential": {"id": "aWQ", "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA", "userHandle": None}}, "next": "/"},
        {"device_id": "d1", "nonce": n, "ek_public": "AAE", "ek_certificate": "MA", "ek_chain": ["MA"], "aik_public": "AAE", "tpm": {"family": "2.0", "manufacturer": "IBM", "firmware": "1.2.3.4"}, "device_signature": sig},
        {"device_id": "d1", "activation": "a", "secret": "c2VjcmV0", "nonce": n, "device_signature": sig},
        {"device_id": "d1", "upn": "alice@example.com", "key_id": "ab", "template": "Hello authentication", "nonce": n, "csr": "MA", "device_signature": sig},
        {"device_id": "d1", "upn": "alice@example.com", "key_id": "ab", "serial": "4a01", "nonce": n, "csr": "MA", "device_signature": sig, "key_signature": sig},
    ]
    for i, b in enumerate(bodies):
        write("api_json", f"req-{i:02}", bytes([i]) + json.dumps(b).encode())
    attested = dict(bodies[3], tpm_attestation={"key_public": "AAE", "certify_info": "_1RDRw", "signature": "ABQ"})
    write("api_json", "req-03-attested", bytes([3]) + json.dumps(attested).encode())

    # The service's TPM verification, selector = which % 5 in fuzz_targets/tpm_verify.rs;
    # real swtpm and tpm2-tools outputs (crates/attest/tests/fixtures/tpm).
    tpm = os.path.join(ROOT, "crates/attest/tests/fixtures/tpm")

    def fx(name):
        return open(os.path.join(tpm, name), "rb").read()

    def contents(tpm2b):
        return tpm2b[2:2 + struct.unpack(">H", tpm2b[:2])[0]]

    for scheme in ["rsassa", "rsapss", "ecdsa"]:
        write("tpm_verify", f"sig-{scheme}", b"\x00" + fx(f"certify-hello-{scheme}.sig"))
        write("tpm_verify", f"aik-{scheme}", b"\x01" + contents(fx(f"ak-{scheme}.tpm2b_public")))
    write("tpm_verify", "ek-rsa", b"\x02" + contents(fx("ek.tpm2b_public")))
    write("tpm_verify", "ek-ecc", b"\x02" + contents(fx("ek-ecc.tpm2b_public")))
    write("tpm_verify", "certify-rsassa", b"\x03" + u16(fx("certify-hello-rsassa.attest"))
          + u16(fx("certify-hello-rsassa.sig")) + contents(fx("key-hello.tpm2b_public")))
    write("tpm_verify", "ek-cert", b"\x04" + fx("ek-cert.der"))


    # The certificate-trust parsers, selector = which % 3 in fuzz_targets/pki.rs: a PKCS#10
    # request and an OCSP request made by the real openssl CLI (the request also seeds
    # the countersigned-request parser, which reads the same DER shapes).
    with tempfile.TemporaryDirectory() as tmp:
        key, csr, cert, req = (os.path.join(tmp, f) for f in ("k.pem", "r.der", "c.pem", "o.der"))
        subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-subj", "/CN=alice@example.com", "-outform", "DER", "-out", csr],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "req", "-x509", "-key", key, "-subj", "/CN=Fuzz CA", "-days", "1",
                        "-out", cert], check=True, capture_output=True)
        subprocess.run(["openssl", "ocsp", "-issuer", cert, "-serial", "0x4a01", "-reqout", req],
                       check=True, capture_output=True)
        der = open(csr, "rb").read()
        write("pki", "csr-rsa", b"\x00" + der)
        write("pki", "countersigned-shape", b"\x01" + der)
        write("pki", "ocsp-request", b"\x02" + open(req, "rb").read())


if __name__ == "__main__":
    sys.exit(main())
