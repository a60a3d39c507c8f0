// The test PBX: a strict, small Asterisk 22 dialplan engine for running FreePBX-generated
// dialplan in tests. See README.md beside this file.
export { Pbx, PbxError } from './engine';
export type { PbxOptions, QueueConfig, ChannelRecord, TraceLine, PbxEvent, AgiRunRecord } from './engine';
export { parseDialplan, Dialplan, DialplanSyntaxError } from './parser';
export type { DialplanSource } from './parser';
export { evaluateExpression } from './expression';
export { substitute } from './substitute';
export { separateArgs } from './args';
export { placeInbound, callPhone } from './phones';
export type { PhoneScript, InboundOptions, InboundCall } from './phones';
export type { BuiltinAgi } from './agi';
export { Channel } from './channel';
