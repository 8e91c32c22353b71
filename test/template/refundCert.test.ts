/**
 * The production template with the APIv2 client certificate switched on (`--param merchantCert=true
 * --param merchantP12=true --param secapiBaseUrl=…`), built offline like template.test.ts: only the
 * refund function is given the certificate's SSM paths, and its role may read exactly the paths its
 * environment names, decrypting only the SecureStrings among them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PARAM_SUFFIX, SECRET_VARIABLES } from '../../lib/secrets';
import { checkTemplate, loadSpecification } from '../../scripts/ci/check-template';
import { packageProd, type Resource } from './support';

const SECAPI = 'https://secapi.example.com';
const CERT_VARIABLES = ['WECHATPAY_MERCHANT_CERT', 'WECHATPAY_MERCHANT_P12'];
let resources: Record<string, Resource>;

beforeAll(async () => {
  // every switch on, so that each path a role is granted is one its function names
  const switches = ['apiV2Key', 'platformCerts', 'merchantCert', 'merchantP12'].map((p) => `${p}=true`);
  const template = await packageProd([
    ...switches.flatMap((s) => ['--param', s]),
    '--param',
    `secapiBaseUrl=${SECAPI}`,
  ]);
  resources = template.Resources;
}, 300_000);

interface Statement {
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const namesIn = (value: unknown) =>
  [...JSON.stringify(value ?? null).matchAll(/parameter\/wechatpay-lambda\/prod\/([A-Z0-9_]+)/g)].map((m) => m[1]);

function statementsOf(fn: Resource): Statement[] {
  const role = fn.Properties.Role as { 'Fn::GetAtt': [string, string] };
  const policies = resources[role['Fn::GetAtt'][0]]?.Properties.Policies as Array<{
    PolicyDocument: { Statement: Statement[] };
  }>;
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

/** The parameter names the function's role may read from SSM, sorted. */
const readable = (fn: Resource) =>
  statementsOf(fn)
    .filter((s) => actions(s).includes('ssm:GetParameter'))
    .flatMap((s) => namesIn(s.Resource))
    .sort();

/** The parameter names the function's environment gives a path for, sorted. */
const named = (fn: Resource) =>
  Object.entries(fn.Properties.Environment?.Variables ?? {})
    .filter(([name, path]) => name.endsWith(PARAM_SUFFIX) && path !== '')
    .map(([name]) => name.slice(0, -PARAM_SUFFIX.length))
    .sort();

const functions = () => Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');

function refund(): Resource {
  const fn = resources.RefundLambdaFunction;
  if (!fn) throw new Error('the template has no RefundLambdaFunction');
  return fn;
}

describe('the APIv2 client certificate in the production template', () => {
  it('still passes the CloudFormation specification check', () => {
    expect(checkTemplate({ Resources: resources }, loadSpecification())).toEqual([]);
  });

  it('gives the refund function the certificate paths and the secapi origin', () => {
    const vars = refund().Properties.Environment?.Variables ?? {};
    expect(vars.WECHATPAY_MERCHANT_CERT_PARAM).toBe('/wechatpay-lambda/prod/WECHATPAY_MERCHANT_CERT');
    expect(vars.WECHATPAY_MERCHANT_P12_PARAM).toBe('/wechatpay-lambda/prod/WECHATPAY_MERCHANT_P12');
    expect(vars.WECHATPAY_SECAPI_BASE_URL).toBe(SECAPI);
    // never the value itself, and never the local simulator's CA
    expect(vars).not.toHaveProperty('WECHATPAY_MERCHANT_CERT');
    expect(vars).not.toHaveProperty('WECHATPAY_MERCHANT_P12');
    expect(vars).not.toHaveProperty('WECHATPAY_SECAPI_CA');
  });

  it("lets the refund role read exactly the paths the refund function names, the certificate's among them", () => {
    expect(named(refund())).toEqual(expect.arrayContaining(CERT_VARIABLES));
    expect(readable(refund())).toEqual(named(refund()));
  });

  it('decrypts the PKCS#12 bundle (a SecureString) for refund only through SSM, never the PEM certificate', () => {
    expect(SECRET_VARIABLES).toContain('WECHATPAY_MERCHANT_P12');
    expect(SECRET_VARIABLES).not.toContain('WECHATPAY_MERCHANT_CERT');
    const kms = statementsOf(refund()).filter((s) => actions(s).includes('kms:Decrypt'));
    expect(kms).toHaveLength(1);
    const context = namesIn(kms[0]?.Condition?.['ForAnyValue:StringEquals']?.['kms:EncryptionContext:PARAMETER_ARN']);
    expect(context.sort()).toEqual(named(refund()).filter((n) => (SECRET_VARIABLES as readonly string[]).includes(n)));
  });

  it('gives no other function the certificate: reconcile only queries refunds, which needs none', () => {
    for (const [id, fn] of functions()) {
      if (id === 'RefundLambdaFunction') continue;
      const vars = fn.Properties.Environment?.Variables ?? {};
      for (const name of CERT_VARIABLES) {
        expect(vars, `${id} ${name}`).not.toHaveProperty(`${name}${PARAM_SUFFIX}`);
        expect(readable(fn), `${id} ${name}`).not.toContain(name);
      }
      expect(vars, id).not.toHaveProperty('WECHATPAY_SECAPI_BASE_URL');
    }
  });
});
