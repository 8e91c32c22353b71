/**
 * The production template, built once by `serverless package --stage prod` offline (no AWS
 * credentials), read as CloudFormation will read it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CALLER_ACTIONS, REFUND_CALLER_ACTIONS } from '../../lib/client';
import { DEFAULT_PENDING_SHARDS } from '../../lib/orders/table';
import { PARAM_SUFFIX, RESOLVABLE_VARIABLES, SECRET_VARIABLES } from '../../lib/secrets';
import { checkTemplate, loadSpecification } from '../../scripts/ci/check-template';
import { packageProd, type Resource } from './support';

let resources: Record<string, Resource>;
let outputs: Record<string, { Value: unknown }>;
let text: string;

beforeAll(async () => {
  const template = await packageProd();
  resources = template.Resources;
  outputs = (template as unknown as { Outputs: Record<string, { Value: unknown }> }).Outputs;
  text = JSON.stringify(template);
}, 300_000);

/** The resource with this logical id; fails the test when the template lacks it. */
function res(id: string): Resource {
  const r = resources[id];
  if (!r) throw new Error(`the template has no ${id}`);
  return r;
}

/** The only resource of a type. */
function one(type: string): Resource {
  const found = ofType(type);
  expect(found, type).toHaveLength(1);
  return (found[0] as [string, Resource])[1];
}

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const functions = () => ofType('AWS::Lambda::Function');
const functionName = (id: string) => id.replace(/LambdaFunction$/, '').replace(/^./, (c) => c.toLowerCase());

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

function statementsOf(fnId: string): Statement[] {
  const role = res(fnId).Properties.Role as { 'Fn::GetAtt': [string, string] };
  const policies = res(role['Fn::GetAtt'][0]).Properties.Policies as Array<{
    PolicyDocument: { Statement: Statement[] };
  }>;
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const arnsOf = (s: Statement) => JSON.stringify(s.Resource);

/** The parameter names a function's role may read from SSM. */
function ssmNames(fnId: string): string[] {
  return statementsOf(fnId)
    .filter((s) => actions(s).includes('ssm:GetParameter'))
    .flatMap((s) => [...arnsOf(s).matchAll(/parameter\/wechatpay-lambda\/prod\/([A-Z0-9_]+)/g)].map((m) => m[1] ?? ''));
}

const byFunction = (name: string) =>
  functions()
    .filter(([id]) => ssmNames(id).includes(name))
    .map(([id]) => functionName(id))
    .sort();

describe('the production template', () => {
  it('passes the CloudFormation specification check', () => {
    expect(checkTemplate({ Resources: resources }, loadSpecification())).toEqual([]);
  });

  it('holds no deploy-time lookup and no secret variable: functions name SSM paths only', () => {
    expect(text).not.toMatch(/\$\{(ssm|param|env|opt):/);
    for (const [id, fn] of functions()) {
      const vars = fn.Properties.Environment?.Variables ?? {};
      for (const name of RESOLVABLE_VARIABLES) expect(vars, `${id} ${name}`).not.toHaveProperty(name);
      for (const [name, value] of Object.entries(vars)) {
        if (name.endsWith(PARAM_SUFFIX))
          expect(value, `${id} ${name}`).toMatch(/^$|^\/wechatpay-lambda\/prod\/[A-Z0-9_]+$/);
      }
      expect(vars).not.toHaveProperty('DYNAMODB_ENDPOINT');
    }
  });

  it('keeps every function environment under 2 KB (Lambda counts names and values)', () => {
    for (const [id, fn] of functions()) {
      const vars = fn.Properties.Environment?.Variables ?? {};
      const bytes = Object.entries(vars).reduce(
        (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)),
        0,
      );
      expect(bytes, id).toBeLessThan(2048);
    }
  });

  it('lets only the functions that use a secret read it', () => {
    const notify = [
      'aggregatorNotify',
      'bills',
      'closeOrder',
      'couponNotify',
      'paymentNotify',
      'reconcile',
      'refreshCertificates',
      'refund',
      'refundNotify',
    ];
    // the WeChat notify functions sign the one rate-limited certificate download (the README's "Production key guide")
    expect(byFunction('WECHATPAY_MERCHANT_PRIVATE_KEY')).toEqual([
      'bills',
      'closeOrder',
      'couponNotify',
      'paymentNotify',
      'reconcile',
      'refreshCertificates',
      'refund',
      'refundNotify',
    ]);
    expect(byFunction('AGGREGATOR_SECRET')).toEqual(['aggregatorNotify']);
    // the APIv2 secapi client certificate: refund apply only (refundCert.test.ts switches it on)
    expect(byFunction('WECHATPAY_MERCHANT_CERT')).toEqual(['refund']);
    expect(byFunction('WECHATPAY_MERCHANT_P12')).toEqual(['refund']);
    const refundVars = res('RefundLambdaFunction').Properties.Environment?.Variables ?? {};
    expect(refundVars).toMatchObject({
      WECHATPAY_MERCHANT_CERT_PARAM: '',
      WECHATPAY_MERCHANT_P12_PARAM: '',
      WECHATPAY_SECAPI_BASE_URL: '',
    });
    expect(byFunction('WECHATPAY_APIV3_KEY')).toEqual(notify);
    expect(byFunction('WECHATPAY_APIV2_KEY')).toEqual(notify);
    expect(ssmNames('StreamConsumerLambdaFunction')).toEqual([]);
    // a function's environment never names a path its role cannot read
    for (const [id, fn] of functions()) {
      for (const [name, value] of Object.entries(fn.Properties.Environment?.Variables ?? {})) {
        if (name.endsWith(PARAM_SUFFIX) && value)
          expect(ssmNames(id), id).toContain(name.slice(0, -PARAM_SUFFIX.length));
      }
    }
  });

  it('grants kms:Decrypt only through SSM and only for the SecureStrings each role reads', () => {
    for (const [id] of functions()) {
      const kms = statementsOf(id).filter((s) => actions(s).some((a) => a.startsWith('kms:')));
      const secrets = SECRET_VARIABLES.filter((n) => ssmNames(id).includes(n));
      if (secrets.length === 0) {
        expect(kms, id).toEqual([]);
        continue;
      }
      expect(kms, id).toHaveLength(1);
      const [statement] = kms as [Statement];
      expect(actions(statement)).toEqual(['kms:Decrypt']);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a JS template
      expect(JSON.stringify(statement.Condition?.StringEquals?.['kms:ViaService'])).toContain('ssm.${AWS::Region}');
      const context = JSON.stringify(
        statement.Condition?.['ForAnyValue:StringEquals']?.['kms:EncryptionContext:PARAMETER_ARN'],
      );
      for (const name of SECRET_VARIABLES) {
        if (secrets.includes(name)) expect(context, `${id} ${name}`).toContain(`/${name}`);
        else expect(context, `${id} ${name}`).not.toContain(`/${name}`);
      }
    }
  });

  it('gives every alarm an action, on a topic the stack creates by default', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm');
    expect(alarms.map(([id]) => id).sort()).toEqual(
      [
        'AnomalyAlarm',
        'Api5xxAlarm',
        'BillDiscrepanciesAlarm',
        'DeliveryRetryableAlarm',
        'PendingPastHorizonAlarm',
        'PlatformCertificateExpiryAlarm',
        'ReconcileErrorsAlarm',
        'StreamFailureQueueAlarm',
        'StreamIteratorAgeAlarm',
      ].sort(),
    );
    for (const [id, alarm] of alarms) {
      const actionsOf = alarm.Properties.AlarmActions as unknown[];
      expect(actionsOf, id).toHaveLength(1);
      expect(JSON.stringify(actionsOf[0]), id).toContain('"Ref":"AlarmTopic"');
    }
    expect(res('AlarmTopic').Type).toBe('AWS::SNS::Topic');
  });

  it('scopes every alarm to this stage: its own resources, or the service and stage dimensions', () => {
    for (const [id, alarm] of ofType('AWS::CloudWatch::Alarm')) {
      const dims = alarm.Properties.Dimensions as Array<{ Name: string; Value: unknown }>;
      if (alarm.Properties.Namespace === 'WechatPayLambda') {
        expect(dims, id).toContainEqual({ Name: 'service', Value: 'wechatpay-lambda' });
        expect(dims, id).toContainEqual({ Name: 'stage', Value: 'prod' });
      } else {
        // ApiId, FunctionName, QueueName: each a resource of this stack
        expect(
          dims.every((d) => typeof d.Value === 'object'),
          id,
        ).toBe(true);
      }
    }
    expect(res('DeliveryRetryableAlarm').Properties).toMatchObject({
      Namespace: 'WechatPayLambda',
      MetricName: 'Delivery',
      Dimensions: expect.arrayContaining([{ Name: 'outcome', Value: 'failed-retryable' }]),
    });
  });

  it('has a dashboard of deliveries by outcome, latency p50/p99, anomalies and pending orders', () => {
    const dashboard = one('AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const part of ['Deliveries by outcome', 'p50', 'p99', 'Anomaly', 'PendingPastHorizon'])
      expect(body).toContain(part);
  });

  it('traces every function with X-Ray, each role allowed to send traces', () => {
    for (const [id, fn] of functions()) {
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(
        statementsOf(id).some((s) => actions(s).includes('xray:PutTraceSegments')),
        id,
      ).toBe(true);
    }
  });

  it('throttles the API stage and writes JSON access logs', () => {
    const stage = res('HttpApiStage').Properties as {
      DefaultRouteSettings: Record<string, unknown>;
      AccessLogSettings: { Format: string };
    };
    expect(stage.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
    const format = JSON.parse(stage.AccessLogSettings.Format) as Record<string, string>;
    expect(format.requestId).toBe('$context.requestId');
    expect(format.status).toBe('$context.status');
  });

  it('sends stream batches that exhaust their retries to an SQS queue, reporting partial failures', () => {
    const mapping = one('AWS::Lambda::EventSourceMapping');
    expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.Properties.DestinationConfig).toEqual({
      OnFailure: { Destination: { 'Fn::GetAtt': ['StreamFailureQueue', 'Arn'] } },
    });
    expect(res('StreamFailureQueue').Type).toBe('AWS::SQS::Queue');
    const send = statementsOf('StreamConsumerLambdaFunction').find((s) => actions(s).includes('sqs:SendMessage'));
    expect(send?.Resource).toEqual({ 'Fn::GetAtt': ['StreamFailureQueue', 'Arn'] });
  });

  it('refreshes certificates daily with a role limited to the certificate items, and alarms below 30 days', () => {
    const fn = res('RefreshCertificatesLambdaFunction');
    const rule = ofType('AWS::Events::Rule').find(([, r]) =>
      JSON.stringify(r.Properties.Targets).includes('RefreshCertificatesLambdaFunction'),
    );
    expect(rule?.[1].Properties.ScheduleExpression).toBe('rate(1 day)');
    expect(fn.Properties.Environment?.Variables).toHaveProperty('WECHATPAY_MERCHANT_PRIVATE_KEY_PARAM');
    const dynamo = statementsOf('RefreshCertificatesLambdaFunction').filter((s) =>
      actions(s).some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamo).toHaveLength(1);
    expect(actions(dynamo[0] as Statement).sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(JSON.stringify(dynamo[0]?.Condition)).toContain('KEYS#*');
    // the notify functions read the stored certificates: BatchGetItem only on the KEYS# items
    const batch = statementsOf('PaymentNotifyLambdaFunction').filter((s) =>
      actions(s).includes('dynamodb:BatchGetItem'),
    );
    expect(batch).toHaveLength(1);
    expect(JSON.stringify(batch[0]?.Condition)).toContain('KEYS#*');
    expect(res('PlatformCertificateExpiryAlarm').Properties).toMatchObject({
      MetricName: 'PlatformCertificateDaysToExpiry',
      Statistic: 'Minimum',
      Threshold: 30,
      ComparisonOperator: 'LessThanThreshold',
    });
  });

  it('reserves no concurrency by default', () => {
    for (const [id, fn] of functions()) expect(fn.Properties, id).not.toHaveProperty('ReservedConcurrentExecutions');
  });

  it('runs bills on a schedule after 10:00 Beijing, least privilege, reports in a bucket that expires them', () => {
    const rules = ofType('AWS::Events::Rule').filter(([, r]) => JSON.stringify(r).includes('BillsLambdaFunction'));
    expect(rules.map(([, r]) => r.Properties.ScheduleExpression).sort()).toEqual([
      'cron(30 2 * * ? *)',
      'cron(30 4 * * ? *)',
    ]);
    const statements = statementsOf('BillsLambdaFunction');
    const table = statements.find((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
    expect(actions(table as Statement).sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
    ]);
    // the paid-day index only, never the table itself: Query, no Scan
    const query = statements.filter((s) => actions(s).includes('dynamodb:Query'));
    expect(query.flatMap(actions)).toEqual(['dynamodb:Query']);
    expect(JSON.stringify(query[0]?.Resource)).toContain('/index/paid-by-day');
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    expect(s3.flatMap(actions)).toEqual(['s3:PutObject']);
    expect(arnsOf(s3[0] as Statement)).toContain('BillsBucket');
    const rule = (res('BillsBucket').Properties.LifecycleConfiguration as { Rules: Array<Record<string, unknown>> })
      .Rules[0];
    expect(rule).toMatchObject({ Status: 'Enabled', ExpirationInDays: 400 });
    const vars = res('BillsLambdaFunction').Properties.Environment?.Variables ?? {};
    expect(vars.BILLS_BUCKET).toEqual({ Ref: 'BillsBucket' });
  });
});

describe("the merchant's side of the production template", () => {
  it('outputs the table ARN, the closeOrder ARN, the shard count and the caller policy ARN', () => {
    expect(outputs.PaymentsTableArn?.Value).toEqual({ 'Fn::GetAtt': ['PaymentsTable', 'Arn'] });
    expect(outputs.CloseOrderFunctionArn?.Value).toEqual({ 'Fn::GetAtt': ['CloseOrderLambdaFunction', 'Arn'] });
    expect(outputs.CallerPolicyArn?.Value).toEqual({ Ref: 'CallerPolicy' });
    expect(outputs.PendingShards?.Value).toBe(String(DEFAULT_PENDING_SHARDS));
  });

  it('has a managed caller policy: UpdateItem on order items of this table, and invoking closeOrder', () => {
    const policy = res('CallerPolicy');
    expect(policy.Type).toBe('AWS::IAM::ManagedPolicy');
    const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(statements.flatMap(actions).sort()).toEqual(Object.values(CALLER_ACTIONS).flat().sort());
    const register = statements.find((st) => actions(st).includes('dynamodb:UpdateItem'));
    expect(register?.Resource).toEqual({ 'Fn::GetAtt': ['PaymentsTable', 'Arn'] });
    expect(register?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['ORDER#*'] } });
    const invoke = statements.find((st) => actions(st).includes('lambda:InvokeFunction'));
    expect(arnsOf(invoke as Statement)).toContain('CloseOrderLambdaFunction');
    expect(statements.every((st) => st.Effect === 'Allow')).toBe(true);
  });

  it('has a separate managed policy for refunds, its ARN and the refund function ARN as outputs', () => {
    const policy = res('RefundCallerPolicy');
    expect(policy.Type).toBe('AWS::IAM::ManagedPolicy');
    const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(statements.flatMap(actions)).toEqual([...REFUND_CALLER_ACTIONS]);
    expect(arnsOf(statements[0] as Statement)).toContain('RefundLambdaFunction');
    expect(outputs.RefundCallerPolicyArn?.Value).toEqual({ Ref: 'RefundCallerPolicy' });
    expect(outputs.RefundFunctionArn?.Value).toEqual({ 'Fn::GetAtt': ['RefundLambdaFunction', 'Arn'] });
  });

  it('passes the shard count to every function', () => {
    for (const [id, fn] of functions()) {
      expect(fn.Properties.Environment?.Variables?.PENDING_SHARDS, id).toBe(String(DEFAULT_PENDING_SHARDS));
    }
  });
});
