import { expect } from 'chai';
import { PassThrough } from 'stream';
import { AgiChannel, AgiCommandError, AgiHangupError } from '../../agi-src/agi/channel';
import { parseEnvironmentLine, parseReplyLine, quote } from '../../agi-src/agi/protocol';
import { rejects } from '../helpers/assert';
import { parseAgiArgs } from '../helpers/fake-asterisk';

// Vectors are the replies recorded on Asterisk 22.10.1 (shared reference, AGI transcripts).
describe('AGI protocol', () => {
  describe('environment lines', () => {
    it('splits at the first ": " so values keep their colons', () => {
      expect(parseEnvironmentLine('agi_request: agi://127.0.0.1:4573/hangup-test')).to.deep.equal([
        'agi_request',
        'agi://127.0.0.1:4573/hangup-test',
      ]);
      expect(parseEnvironmentLine('agi_arg_3: 12:30: lunch')).to.deep.equal(['agi_arg_3', '12:30: lunch']);
    });
    it('keeps empty values (trailing space) and tolerates a trimmed one', () => {
      expect(parseEnvironmentLine('agi_accountcode: ')).to.deep.equal(['agi_accountcode', '']);
      expect(parseEnvironmentLine('agi_accountcode:')).to.deep.equal(['agi_accountcode', '']);
    });
    it('ignores lines that are not name/value pairs', () => {
      expect(parseEnvironmentLine('garbage')).to.equal(null);
    });
  });

  describe('replies', () => {
    it('reads result and value', () => {
      const { reply } = parseReplyLine('200 result=1 (1795694681.5)');
      expect(reply).to.include({ code: 200, result: '1', value: '1795694681.5' });
    });
    it('takes the value up to the LAST ")"', () => {
      expect(parseReplyLine('200 result=1 (He said "hi" (twice))').reply.value).to.equal('He said "hi" (twice)');
      expect(parseReplyLine('200 result=1 (paren ) inside)').reply.value).to.equal('paren ) inside');
    });
    it('distinguishes unset (no parentheses) from empty ()', () => {
      expect(parseReplyLine('200 result=0').reply.value).to.equal(undefined);
      expect(parseReplyLine('200 result=1 ()').reply.value).to.equal('');
    });
    it('reads key=value extras after the value', () => {
      const { reply } = parseReplyLine('200 result=-1 endpos=19520');
      expect(reply.result).to.equal('-1');
      expect(reply.extra).to.deep.equal({ endpos: '19520' });
    });
    it('marks 520- as the start of a multi-line block', () => {
      expect(parseReplyLine('520-Invalid command syntax.  Proper usage follows:').complete).to.equal(false);
      expect(parseReplyLine('510 Invalid or unknown command').complete).to.equal(true);
    });
  });

  describe('quote', () => {
    const roundTrip = (v: string) => parseAgiArgs(`SET VARIABLE X ${quote(v)}`)[3];
    it('survives res_agi argument parsing for quotes, backslashes and parentheses', () => {
      for (const v of ['Ivan "The Terrible" Petrov', 'back\\slash', 'paren ) (', 'Иван Петров', '', ' lead and trail ', '😀 emoji']) {
        expect(roundTrip(v)).to.equal(v);
      }
    });
    it('never lets CR or LF through (a raw LF would end the command)', () => {
      const q = quote('line1\nline2\r\nSET VARIABLE EVIL 1');
      expect(q).not.to.match(/[\r\n]/);
      expect(parseAgiArgs(`SET VARIABLE X ${q}`)).to.have.length(4);
    });
  });

  describe('channel over streams', () => {
    function pair() {
      const input = new PassThrough();
      const output = new PassThrough();
      const sent: string[] = [];
      output.on('data', (c) => sent.push(...String(c).split('\n').filter(Boolean)));
      const channel = new AgiChannel({ input, output });
      return { input, output, sent, channel };
    }

    it('reads the environment up to the empty line, even when split across chunks', async () => {
      const { input, channel } = pair();
      input.write('agi_uniqueid: 179569');
      input.write('4681.5\nagi_callerid: unknown\nagi_network: yes\n');
      input.write('\n');
      const env = await channel.readEnvironment();
      expect(env).to.include({ agi_uniqueid: '1795694681.5', agi_callerid: 'unknown', agi_network: 'yes' });
    });

    it('answers one command at a time, in order', async () => {
      const { input, sent, channel } = pair();
      input.write('\n');
      await channel.readEnvironment();
      const a = channel.getVariable('A');
      const b = channel.getVariable('B');
      await new Promise((r) => setImmediate(r));
      expect(sent).to.deep.equal(['GET VARIABLE "A"']);
      input.write('200 result=1 (one)\n');
      expect(await a).to.equal('one');
      await new Promise((r) => setImmediate(r));
      expect(sent).to.deep.equal(['GET VARIABLE "A"', 'GET VARIABLE "B"']);
      input.write('200 result=0\n');
      expect(await b).to.equal(undefined);
    });

    it('reads a multi-line 520 block to its end and rejects with a command error', async () => {
      const { input, channel } = pair();
      input.write('\n');
      await channel.readEnvironment();
      const p = channel.setVariable('X', 'y');
      input.write('520-Invalid command syntax.  Proper usage follows:\nSets a variable to the current channel.\n520 End of proper usage.\n');
      await rejects(p, AgiCommandError);
      const next = channel.getVariable('Y');
      input.write('200 result=1 (fine)\n');
      expect(await next).to.equal('fine');
    });

    it('joins a value that spans lines (a newline inside a variable)', async () => {
      const { input, channel } = pair();
      input.write('\n');
      await channel.readEnvironment();
      const p = channel.getVariable('NLVAR');
      input.write('200 result=1 (line1\nline2)\n');
      expect(await p).to.equal('line1\nline2');
    });

    it('skips an unsolicited FastAGI HANGUP line between a command and its reply', async () => {
      const { input, channel } = pair();
      input.write('\n');
      await channel.readEnvironment();
      const p = channel.getVariable('UNIQUEID');
      input.write('HANGUP\n200 result=1 (1795694739.15)\n');
      expect(await p).to.equal('1795694739.15');
      expect(channel.hungUp).to.equal(true);
    });

    it('turns 511 into a hangup error', async () => {
      const { input, channel } = pair();
      input.write('\n');
      await channel.readEnvironment();
      const p = channel.setVariable('X', '1');
      input.write('511 Command Not Permitted on a dead channel or intercept routine\n');
      await rejects(p, AgiHangupError);
    });

    it('rejects pending and later commands once stdin closes', async () => {
      const { input, channel } = pair();
      input.write('\n');
      await channel.readEnvironment();
      const p = channel.getVariable('A');
      input.end();
      await rejects(p, AgiHangupError);
      await rejects(channel.getVariable('B'), AgiHangupError);
    });
  });
});
