// Shared by the security tests (issue 7): throwaway TLS material made with openssl, NATS
// operator-mode JWTs made with nkeys.js, a keyed producer, and a WebSocket constructor
// that trusts a given CA. Everything is generated at test time in a temp dir: nothing
// here is committed, nothing expires during a run (certificates last one day, JWTs have
// no `exp`).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { createAccount, createOperator, createUser } from "nkeys.js";

export const OPENSSL = "/usr/bin/openssl";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A temp dir and its removal. */
export function tempDir(label) {
  const dir = mkdtempSync(join(tmpdir(), `tributary-security-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A self-signed CA and a server certificate it signed for 127.0.0.1 (SAN IP:127.0.0.1),
 * EC P-256, valid one day, written into `dir`. Returns the paths and the CA's PEM text.
 */
export function makeTls(dir) {
  const ssl = (...args) => execFileSync(OPENSSL, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=tributary throwaway test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n");
  ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-days", "1", "-out", "server.pem", "-extfile", "server.ext");
  return {
    caFile: join(dir, "ca.pem"),
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server.key"),
    ca: readFileSync(join(dir, "ca.pem"), "utf8"),
  };
}

/**
 * A WebSocket constructor for the sink's `WebSocket` option: the `ws` package with extra
 * client options (e.g. `{ ca }`). The bindings construct it as `new WebSocket(url)`
 * (Reflect.construct with the URL only); `protocols` is passed on should it ever be
 * given. Every socket's error messages are collected in `errors`.
 */
export function webSocketWith(options) {
  const errors = [];
  class Configured extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols ?? [], options);
      this.addEventListener("error", (e) => errors.push(e.message ?? String(e.error ?? e)));
    }
  }
  return { WebSocket: Configured, errors };
}

/** Sends `n` keyed records in sendAll chunks; returns partition → count. */
export async function produce(producer, n, { chunk = 2000, tag = "r", value = null } = {}) {
  const counts = new Map();
  for (let start = 0; start < n; start += chunk) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + chunk); i++) {
      batch.push([`user-${i % 1013}`, value ? value(i) : `${tag}-${i}-${"x".repeat(40)}`]);
    }
    for (const md of await producer.sendAll(batch)) counts.set(md.partition, (counts.get(md.partition) ?? 0) + 1);
  }
  return counts;
}

/** `a` + `b`, partition-wise. */
export function addCounts(a, b) {
  const out = new Map(a);
  for (const [p, n] of b) out.set(p, (out.get(p) ?? 0) + n);
  return out;
}

// ---- NATS operator mode: JWTs signed with nkeys.js ------------------------------------

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** A NATS JWT (ed25519-nkey) of `claims`, signed by `issuer` (an nkeys.js KeyPair). */
export function jwt(claims, issuer) {
  const header = b64url(enc.encode(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" })));
  const body = b64url(enc.encode(JSON.stringify(claims)));
  const input = `${header}.${body}`;
  return `${input}.${b64url(issuer.sign(enc.encode(input)))}`;
}

/** The text of a `.creds` file, as `nsc` writes it. */
export function credsFile(userJwt, seed) {
  return `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n` +
    "************************* IMPORTANT *************************\n" +
    "NKEY Seed printed below can be used to sign and prove identity.\n" +
    "NKEYs are sensitive and should be treated as secrets.\n\n" +
    `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n\n` +
    "*************************************************************\n";
}

let jti = 0;
const claimsBase = (iss, sub, name) => ({
  jti: `TRIBUTARYTEST${process.pid}X${++jti}`, iat: Math.floor(Date.now() / 1000), iss, sub, name,
});

/**
 * An operator, an account with JetStream enabled (unlimited), a system account, and a
 * user of the account; `user(name)` makes more users of the same account. No JWT has an
 * `exp`: they do not expire. `serverConfig(dir)` is the nats-server config text (operator
 * mode, MEMORY resolver preloaded with both accounts) with the operator JWT written in
 * `dir`.
 */
export function operatorSetup() {
  const operator = createOperator();
  const account = createAccount();
  const system = createAccount();
  const opPub = operator.getPublicKey();
  const operatorJwt = jwt({
    ...claimsBase(opPub, opPub, "tributary-test-operator"),
    nats: { type: "operator", version: 2, system_account: system.getPublicKey() },
  }, operator);
  const limits = {
    subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1,
  };
  const accountJwt = jwt({
    ...claimsBase(opPub, account.getPublicKey(), "tributary-test-account"),
    nats: {
      type: "account", version: 2,
      limits: { ...limits, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
      default_permissions: { pub: {}, sub: {} },
    },
  }, operator);
  const systemJwt = jwt({
    ...claimsBase(opPub, system.getPublicKey(), "SYS"),
    nats: { type: "account", version: 2, limits, default_permissions: { pub: {}, sub: {} } },
  }, operator);
  const user = (name, signer = account) => {
    const kp = createUser();
    const userJwt = jwt({
      ...claimsBase(signer.getPublicKey(), kp.getPublicKey(), name),
      nats: { type: "user", version: 2, pub: {}, sub: {}, subs: -1, data: -1, payload: -1 },
    }, signer);
    const seed = dec.decode(kp.getSeed());
    return { jwt: userJwt, seed, publicKey: kp.getPublicKey(), creds: credsFile(userJwt, seed) };
  };
  return {
    operatorJwt, accountJwt, systemJwt, user,
    accountPublicKey: account.getPublicKey(),
    /** A user signed by an account the server does not know. */
    stranger: (name) => user(name, createAccount()),
    serverConfig(dir) {
      const path = join(dir, "operator.jwt");
      writeFileSync(path, operatorJwt);
      return `operator: "${path}"\nsystem_account: ${system.getPublicKey()}\nresolver: MEMORY\n` +
        `resolver_preload: {\n  ${account.getPublicKey()}: "${accountJwt}"\n  ${system.getPublicKey()}: "${systemJwt}"\n}\n`;
    },
  };
}
