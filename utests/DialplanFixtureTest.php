<?php

use PHPUnit\Framework\TestCase;

/**
 * utests/fixtures/dump-dialplan.php, run as the lab runs it: the FreePBX 17 fixture with the
 * module's doDialplanHook spliced in, printed as one dialplan.
 */
class DialplanFixtureTest extends TestCase
{
    private $tmp;

    protected function setUp(): void
    {
        $this->tmp = sys_get_temp_dir() . '/itd-bitrix-dump-test-' . bin2hex(random_bytes(6));
        mkdir($this->tmp);
    }

    protected function tearDown(): void
    {
        foreach (glob($this->tmp . '/*') ?: [] as $f) {
            unlink($f);
        }
        rmdir($this->tmp);
    }

    /** [exit code, stdout, stderr] of the dump script with these arguments. */
    private function dump(array $args)
    {
        $cmd = array_merge([PHP_BINARY, __DIR__ . '/fixtures/dump-dialplan.php'], $args);
        $p = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        return [proc_close($p), $out, $err];
    }

    /** context => exten => list of "priority(label),app" as written. */
    private static function parse($conf)
    {
        $out = [];
        $ctx = null;
        foreach (explode("\n", $conf) as $line) {
            if (preg_match('/^\[([^\]]+)\]/', $line, $m)) {
                $ctx = $m[1];
                continue;
            }
            if ($ctx !== null && preg_match('/^exten => ([^,]+),(.*)$/', $line, $m)) {
                $out[$ctx][$m[1]][] = $m[2];
            }
        }
        return $out;
    }

    private static function routeDids()
    {
        require_once __DIR__ . '/fixtures/freepbx17-core.php';
        return array_column(FreePBX17CoreFixture::routes(), 'extension');
    }

    public function testEveryInboundRouteCallsTheModuleRightBeforeTheHookLabel()
    {
        list($rc, $conf, $err) = $this->dump([]);
        $this->assertSame(0, $rc, $err);
        $dp = self::parse($conf);
        foreach (self::routeDids() as $did) {
            $lines = $dp['ext-did-0002'][$did];
            $hook = array_values(preg_grep('/^n\(did-cid-hook\),/', $lines));
            $this->assertCount(1, $hook, $did);
            $at = array_search($hook[0], $lines, true);
            $this->assertMatchesRegularExpression('/^n,Gosub\(itd-bitrix-[a-z-]+,s,1\(/', $lines[$at - 1], "route $did");
            $this->assertSame('n,Gosub(sub-record-check,s,1(in,${EXTEN},force))', $lines[1], 'callrecording (priority 600) splices after the module');
        }
    }

    public function testEveryExtensionStartsAtPriorityOneAndTheAnswerMacroStillReturns()
    {
        list(, $conf) = $this->dump([]);
        foreach (self::parse($conf) as $ctx => $extens) {
            foreach ($extens as $exten => $lines) {
                $this->assertStringStartsWith('1', $lines[0], "$exten@$ctx starts at priority 1");
                $this->assertCount(0, preg_grep('/^1[,(]/', array_slice($lines, 1)), "$exten@$ctx has one priority 1");
            }
        }
        $blkvm = self::parse($conf)['macro-auto-blkvm']['s'];
        $this->assertSame('n,Return()', end($blkvm));
    }

    public function testWithOutgoingCallsEveryExtensionStillStartsAtOneAndTheTrunkDialGetsItsStamp()
    {
        file_put_contents($this->tmp . '/s.json', json_encode(['outgoingEnabled' => true, 'clickToCall' => true]));
        list($rc, $conf, $err) = $this->dump(['--settings', $this->tmp . '/s.json']);
        $this->assertSame(0, $rc, $err);
        foreach (self::parse($conf) as $ctx => $extens) {
            foreach ($extens as $exten => $lines) {
                $this->assertStringStartsWith('1', $lines[0], "$exten@$ctx starts at priority 1");
                $this->assertCount(0, preg_grep('/^1[,(]/', array_slice($lines, 1)), "$exten@$ctx has one priority 1");
            }
        }
        $dp = self::parse($conf);
        $this->assertSame(1, count(preg_grep('/^n,Gosub\(itd-bitrix-outbound,s,1\(\)\)$/', $dp['macro-dialout-trunk']['s'])));
        $this->assertSame(2, count(preg_grep('/BITRIX_OUT_CAUSE/', $dp['macro-dialout-trunk']['s'])));
        $this->assertStringContainsString('${DIAL_TRUNK_OPTIONS}b(func-apply-sipheaders^s^1,(${DIAL_TRUNK}))', $dp['trunk-dial-with-exten']['_X'][0],
            'the trunk Dial takes its options from DIAL_TRUNK_OPTIONS, where the subroutine adds U()');
        $this->assertSame('n,Gosub(sub-record-check,s,1(out,${EXTEN},dontcare))', $dp['outrt-1']['_8XXXXXXXXXX'][1], 'callrecording still splices the route');
    }

    public function testFreePBXsOwnDialplanWhenTheModuleIsOff()
    {
        list($rc, $conf) = $this->dump(['--disabled']);
        $this->assertSame(0, $rc);
        $dp = self::parse($conf);
        // Only the module's destination stays (route 74951234573 points at it), without any AGI.
        $this->assertSame(['itd-bitrix-responsible', 'itd-bitrix-responsible-answered'], array_values(preg_grep('/itd-bitrix/', array_keys($dp))));
        $this->assertStringNotContainsString('itd_bitrix', $conf);
        $this->assertSame(['1,Gosub(macro-blkvm-clr,s,1())', 'n,Return()'], $dp['itd-bitrix-responsible-answered']['s']);
        $this->assertSame('n(dest-ext),Goto(ext-queues,400,1)', end($dp['ext-did-0002']['74951234569']));
        $this->assertContains('n(dial),Gosub(dialOne-with-exten,${DEXTEN},1(${ARG1}))', $dp['macro-dial-one']['s']);
        $this->assertContains('n(nddialapp),Gosub(dial-with-exten,${RGFMDIAL},1())', $dp['macro-dial']['s']);
        $this->assertContains('include => ext-did', explode("\n", $conf));
    }

    public function testResponsibleDestinationUsesOnlyWhatFreePBXGenerates()
    {
        list(, $conf) = $this->dump([]);
        $dp = self::parse($conf);
        $this->assertSame('n(dest-ext),Goto(itd-bitrix-responsible,1,1)', end($dp['ext-did-0002']['74951234573']));
        $lines = $dp['itd-bitrix-responsible']['1'];
        preg_match_all('/(?:Gosub|Goto)\(([a-z0-9-]+),([^,()]+),1/', implode("\n", $lines), $m, PREG_SET_ORDER);
        $targets = array_map(function ($x) {
            return $x[1] . ',' . $x[2];
        }, $m);
        $this->assertSame(['macro-blkvm-set,s', 'macro-blkvm-clr,s', 'ext-queues,400', 'macro-hangupcall,s'], $targets);
        foreach ($targets as $t) {
            list($ctx, $exten) = explode(',', $t);
            $this->assertArrayHasKey($exten, $dp[$ctx], $t);
        }
        // Dial(Local/<ext>@from-internal/n) reaches the extension the way FreePBX's own Local dials do.
        $this->assertContains('include => ext-local', explode("\n", self::contextBlock($conf, 'from-internal-additional')));
        $this->assertArrayHasKey('_.X', $dp['originate-skipvm']);
    }

    private static function contextBlock($conf, $ctx)
    {
        $start = strpos($conf, "[$ctx]\n");
        return substr($conf, $start, strpos($conf, ";--== end of [$ctx]", $start) - $start);
    }

    public function testQueueArgumentsFollowTheAsteriskVersion()
    {
        list(, $ast22) = $this->dump(['--disabled']);
        list(, $ast20) = $this->dump(['--disabled', '--asterisk', '20']);
        $this->assertContains('n(qcall),Queue(400,${QOPTIONS},,${QAANNOUNCE},${QMAXWAIT},${QAGI},${QGOSUB},${QRULE},${QPOSITION})', self::parse($ast22)['ext-queues']['400']);
        $this->assertContains('n(qcall),Queue(400,${QOPTIONS},,${QAANNOUNCE},${QMAXWAIT},${QAGI},,${QGOSUB},${QRULE},${QPOSITION})', self::parse($ast20)['ext-queues']['400']);
        $this->assertContains('n(qgosub),Set(QGOSUB=${IF($[${LEN(${VQ_GOSUB})}>0]?${VQ_GOSUB}:${QGOSUB})})', self::parse($ast22)['ext-queues']['400']);
    }

    public function testOnlyListedDidsAreReported()
    {
        list(, $conf) = $this->dump(['--did', '+7 (495) 123-45-69']);
        $dp = self::parse($conf);
        $this->assertNotEmpty(preg_grep('/itd-bitrix/', $dp['ext-did-0002']['74951234569']));
        $this->assertEmpty(preg_grep('/itd-bitrix/', $dp['ext-did-0002']['74951234567']));
    }

    public function testAstdbSeedQueuesConfAndLabPhones()
    {
        list($rc, $conf, $err) = $this->dump(['--phones', 'local', '--fastagi', '0', '--astdb', $this->tmp . '/db', '--queues', $this->tmp . '/q']);
        $this->assertSame(0, $rc, $err);
        $db = file($this->tmp . '/db', FILE_IGNORE_NEW_LINES);
        $this->assertContains('database put DEVICE 101/dial "Local/101@lab-phone"', $db);
        $this->assertContains('database put AMPUSER 104/followme/grplist "104-105"', $db);
        $this->assertContains('database put DEVICE 102/user "102"', $db);
        $this->assertStringContainsString("member=Local/103@from-queue/n,0,Ext 103,hint:103@ext-local\n", file_get_contents($this->tmp . '/q'));
        $this->assertStringContainsString("exten => 101,hint,Local/101@lab-phone&Custom:DND101,CustomPresence:101\n", $conf);
        $this->assertContains('n(dial),AGI(dialparties.agi)', self::parse($conf)['macro-dial']['s']);
        list(, $fast) = $this->dump(['--disabled']);
        $this->assertContains('n(dial),AGI(agi://127.0.0.1/dialparties.agi)', self::parse($fast)['macro-dial']['s']);
    }

    public function testSettingsFileAndBadOptions()
    {
        file_put_contents($this->tmp . '/s.json', json_encode(['enabled' => true, 'countryCode' => '7']));
        list($rc, $conf) = $this->dump(['--settings', $this->tmp . '/s.json']);
        $this->assertSame(0, $rc);
        $this->assertStringContainsString('itd-bitrix', $conf);
        list($rc, , $err) = $this->dump(['--nonsense']);
        $this->assertSame(2, $rc);
        $this->assertStringContainsString('unknown option --nonsense', $err);
    }
}
