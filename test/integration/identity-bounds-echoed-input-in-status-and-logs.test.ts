/**
 * Refusals never echo unbounded input: whatever a check puts in its message, the
 * `grpc-message` a client reads and the audit line the service logs stay short. The checks
 * cut what they echo at the source; the server cuts every status message and logged field
 * again, as a backstop. Tested over real gRPC + TLS with a CSR whose Common Name is 12,000
 * characters (the largest that fits under the 16 KiB request limit) and with a validator
 * whose refusal message is 50,000 characters long.
 */
import { status } from '@grpc/grpc-js';
import { CertifyError } from '../../proxy/identity/certify-client.js';
import { IdentityError } from '../../src/identity/errors.js';
import { MAX_STATUS_DETAILS } from '../../src/identity/identity-server.js';
import { buildTestCsr } from '../support/csr-builder.js';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
/** The cut message plus its "… [N more characters]" note. */
const MAX_DETAILS_WITH_NOTE = MAX_STATUS_DETAILS + 40;
const MAX_LOG_LINE = 4096;

async function refusal(h: IdentityHarness, token: string, csr: Buffer): Promise<CertifyError> {
  const err = await h.client().certify(WEB, token, csr).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CertifyError);
  return err as CertifyError;
}

function lastAudit(h: IdentityHarness): { line: Record<string, unknown>; raw: string } {
  const i = h.logs.lines.map((l) => l.event).lastIndexOf('certify');
  return { line: h.logs.lines[i], raw: h.logs.raw[i] };
}

test('a 12,000-character Common Name is not echoed whole', async () => {
  const h = await startIdentity();
  try {
    const cn = 'A'.repeat(12_000);
    const err = await refusal(h, await h.tokens.mint('default', 'web'), await buildTestCsr({ cn, dns: [WEB] }));
    expect(status[err.code]).toBe('INVALID_ARGUMENT');
    expect(err.details).toMatch(/Common ?Name|CN|commonName/i);
    expect(err.details.length).toBeLessThanOrEqual(MAX_DETAILS_WITH_NOTE);
    const { line, raw } = lastAudit(h);
    expect(line).toMatchObject({ result: 'refused', reason: 'ERR_CSR_COMMON_NAME', message: err.details });
    expect(raw.length).toBeLessThan(MAX_LOG_LINE);
  } finally {
    await h.stop();
  }
});

test('a 50,000-character refusal from any layer is cut in grpc-message and in the audit line', async () => {
  const h = await startIdentity({
    validator: {
      kind: 'test',
      async validate() {
        throw new IdentityError('ERR_TOKEN_INVALID', `token refused: ${'x'.repeat(50_000)}`);
      },
    },
  });
  try {
    const err = await refusal(h, 'opaque', await buildTestCsr({ dns: [WEB] }));
    expect(status[err.code]).toBe('UNAUTHENTICATED');
    expect(err.details.startsWith('token refused: xxx')).toBe(true);
    expect(err.details).toMatch(/… \[\d+ more characters\]$/);
    expect(err.details.length).toBeLessThanOrEqual(MAX_DETAILS_WITH_NOTE);
    const { line, raw } = lastAudit(h);
    expect(line).toMatchObject({ result: 'refused', reason: 'ERR_TOKEN_INVALID', message: err.details });
    expect(raw.length).toBeLessThan(MAX_LOG_LINE);
  } finally {
    await h.stop();
  }
});
