/** The specification check itself: it must catch what it exists to catch. */
import { describe, expect, it } from 'vitest';
import { checkTemplate, loadSpecification, type Template } from '../../scripts/ci/check-template';

const spec = loadSpecification();

const queue = (properties: Record<string, unknown>): Template => ({
  Resources: { Q: { Type: 'AWS::SQS::Queue', Properties: properties } },
});

const alarm = (properties: Record<string, unknown>): Template => ({
  Resources: { A: { Type: 'AWS::CloudWatch::Alarm', Properties: properties } },
});

const validAlarm = {
  ComparisonOperator: 'GreaterThanThreshold',
  EvaluationPeriods: 1,
  MetricName: 'Errors',
  Namespace: 'AWS/Lambda',
  Statistic: 'Sum',
  Period: 60,
  Threshold: 0,
  Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'F' } }],
  AlarmActions: [{ 'Fn::If': ['C', { Ref: 'T' }, 'arn'] }],
};

describe('checkTemplate', () => {
  it('passes a valid template, intrinsic values included', () => {
    expect(checkTemplate(queue({ MessageRetentionPeriod: 60, SqsManagedSseEnabled: true }), spec)).toEqual([]);
    expect(checkTemplate(alarm(validAlarm), spec)).toEqual([]);
  });

  it('catches an unknown property name', () => {
    expect(checkTemplate(queue({ MessageRetentionPeriods: 60 }), spec)).toEqual([
      'Q (AWS::SQS::Queue): AWS::SQS::Queue has no property MessageRetentionPeriods',
    ]);
  });

  it('catches a missing required property', () => {
    const { ComparisonOperator: _, ...rest } = validAlarm;
    expect(checkTemplate(alarm(rest), spec)).toEqual([
      'A (AWS::CloudWatch::Alarm): required property ComparisonOperator is missing',
    ]);
  });

  it('checks nested property types: an unknown name and a missing required one inside a list item', () => {
    const problems = checkTemplate(alarm({ ...validAlarm, Dimensions: [{ Name: 'FunctionName', Valeu: 'x' }] }), spec);
    expect(problems).toContain('A (AWS::CloudWatch::Alarm).Dimensions[0]: required property Value is missing');
    expect(problems).toContain('A (AWS::CloudWatch::Alarm).Dimensions[0]: Dimension has no property Valeu');
  });

  it('catches an unknown resource type, a missing type and an unknown resource attribute', () => {
    const problems = checkTemplate(
      {
        Resources: {
          X: { Type: 'AWS::SQS::Queues', Properties: {} },
          Y: { Properties: {} },
          Z: { Type: 'AWS::SQS::Queue', Propertes: {} },
        },
      } as Template,
      spec,
    );
    expect(problems).toEqual([
      'X: unknown resource type AWS::SQS::Queues',
      'Y: no Type',
      'Z: unknown resource attribute Propertes',
    ]);
  });

  it('refuses an empty template', () => {
    expect(checkTemplate({}, spec)).toEqual(['the template has no resources']);
  });
});
