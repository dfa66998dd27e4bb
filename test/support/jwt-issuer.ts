/**
 * A real identity provider for JWT tests: a `node:http` server on 127.0.0.1 that serves an OIDC
 * discovery document and a JWKS, counts the requests it receives, and signs tokens with key pairs
 * made by jose. Tests change the served keys (rotation) or the status code (outage) between calls.
 * @example const idp = await startIssuer(await makeKeys()); const token = await idp.sign('RS256', { role: 'clerk' }); await idp.close();
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export const ASYMMETRIC_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type AsymmetricAlg = (typeof ASYMMETRIC_ALGS)[number];

export interface SigningKey {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** The public key as served in the JWKS (with `kid`, `alg`, `use`). */
  readonly jwk: JWK;
  /** The public key as SPKI PEM text. */
  readonly pem: string;
}

/** A fresh key pair for `alg`, named `kid`. */
export async function makeKey(alg: string, kid = `${alg.toLowerCase()}-1`): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, pem: await exportSPKI(publicKey) };
}

export interface SignOptions {
  /** Expiry in epoch seconds; default one hour after `iat`; `null` leaves `exp` out. */
  readonly exp?: number | null;
  readonly nbf?: number;
  /** Issued-at in epoch seconds; default the real clock. */
  readonly iat?: number;
  /** Header `kid`; default the key's; `null` leaves it out. */
  readonly kid?: string | null;
}

/** Signs `claims` with `key` (a key pair, or secret bytes with an HS* `alg`). */
export async function signToken(alg: string, key: CryptoKey | Uint8Array, claims: JWTPayload, options: SignOptions = {}): Promise<string> {
  const iat = options.iat ?? Math.floor(Date.now() / 1000);
  const header = options.kid ? { alg, kid: options.kid } : { alg };
  const jwt = new SignJWT(claims).setProtectedHeader(header).setIssuedAt(iat);
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? iat + 3600);
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
  return jwt.sign(key);
}

export interface TestIssuer {
  /** The issuer identifier (`iss`), an http URL with a path, as Keycloak's realms have. */
  readonly issuer: string;
  readonly jwksUrl: string;
  /** Requests received, by path kind. */
  readonly requests: { jwks: number; discovery: number };
  /** The key pairs by algorithm; `keys` is what the JWKS serves (change it to rotate). */
  readonly signing: Readonly<Record<AsymmetricAlg, SigningKey>>;
  keys: JWK[];
  /** Status of JWKS answers (500 simulates an outage). */
  jwksStatus: number;
  /** The `issuer` the discovery document names (another value simulates a mix-up). */
  documentIssuer: string;
  /** Signs with the key of `alg`, naming its `kid` and `iss` unless `claims` say otherwise. */
  sign(alg: AsymmetricAlg, claims?: JWTPayload, options?: SignOptions): Promise<string>;
  close(): Promise<void>;
}

/** One key pair per algorithm of {@link ASYMMETRIC_ALGS}; make them once per file (RSA is slow). */
export async function makeKeys(): Promise<Record<AsymmetricAlg, SigningKey>> {
  return Object.fromEntries(await Promise.all(ASYMMETRIC_ALGS.map(async (alg) => [alg, await makeKey(alg)] as const))) as Record<AsymmetricAlg, SigningKey>;
}

/** Starts the server on an ephemeral port, serving the public halves of `signing`. */
export async function startIssuer(signing: Record<AsymmetricAlg, SigningKey>): Promise<TestIssuer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/realms/shop/.well-known/openid-configuration') {
      state.requests.discovery++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: state.documentIssuer, jwks_uri: state.jwksUrl, id_token_signing_alg_values_supported: ['RS256'] }));
    } else if (path === '/realms/shop/certs') {
      state.requests.jwks++;
      res.writeHead(state.jwksStatus, { 'content-type': 'application/json' });
      res.end(state.jwksStatus === 200 ? JSON.stringify({ keys: state.keys }) : '{"error":"unavailable"}');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${base}/realms/shop`;
  const state: TestIssuer = {
    issuer,
    jwksUrl: `${issuer}/certs`,
    requests: { jwks: 0, discovery: 0 },
    signing,
    keys: Object.values(signing).map((k) => k.jwk),
    jwksStatus: 200,
    documentIssuer: issuer,
    sign: (alg, claims = {}, options = {}) => signToken(alg, signing[alg].privateKey, { iss: issuer, ...claims }, { ...options, kid: options.kid === undefined ? signing[alg].kid : options.kid }),
    close: () => new Promise<void>((done) => {
      server.closeAllConnections();
      server.close(() => done());
    }),
  };
  return state;
}
