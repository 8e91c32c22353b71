/**
 * Verified APIv3 events the service does not interpret, kept in the DynamoDB store: one item per
 * notification id, written once (a conditional write from none), so the stream carries each once.
 */
import type { EventOutcome, WechatEvent } from '../funds';
import { eventKey } from '../table';
import { NO_STATE, S, transition, type Table } from './transition';

/** Records an event once under its notification id; a repeat delivery finds it recorded. */
export async function recordEvent(table: Table, event: WechatEvent): Promise<EventOutcome> {
  return transition<EventOutcome>(
    table,
    {
      pk: eventKey(event.eventId),
      update:
        'SET entity = :entity, #state = :state, eventId = :id, eventType = :type, resourceType = :rtype, ' +
        'summary = :summary, createTime = :created, #resource = :resource, recordedAt = :now',
      when: NO_STATE,
      names: { '#resource': 'resource' },
      values: {
        ':entity': S('EVENT'),
        ':state': S('RECEIVED'),
        ':id': S(event.eventId),
        ':type': S(event.eventType),
        ':rtype': S(event.resourceType),
        ':summary': S(event.summary),
        ':created': S(event.createTime),
        ':resource': S(event.resource),
        ':now': S(table.iso()),
      },
    },
    () => ({ kind: 'RECORDED' }),
    (item) => (item?.state ? { kind: 'ALREADY_RECORDED' } : 'RETRY'),
  );
}
