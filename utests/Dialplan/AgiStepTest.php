<?php

use FreePBX\modules\Bitrix\Dialplan\AgiStep;

/** Every AGI line of the module: classic AGI (not FreePBX's FastAGI rewrite), identifiers only. */
class AgiStepTest extends BitrixTestCase
{
    public function testClassicAgiOfTheStepsExecutable()
    {
        $ext = new extensions();
        $agi = new AgiStep();
        $agi->add($ext, 'ctx', 's', 'incoming', '${ARG1}');
        $agi->add($ext, 'ctx', 's', 'hangup');
        $this->assertSame(['1,AGI(itd_bitrix_incoming.js,${ARG1})', 'n,AGI(itd_bitrix_hangup.js)'],
            self::extenLines($ext->generateConf(), 'ctx', 's'));
        $this->assertStringNotContainsString('agi://', $ext->generateConf());
    }

    public function testThroughTheResidentServiceWithTheAgiAsFallback()
    {
        $ext = new extensions();
        $agi = new AgiStep(4580);
        $agi->add($ext, 'ctx', 's', 'incoming', '${ARG1}');
        $agi->add($ext, 'ctx', 's', 'hangup', 'out');
        $agi->add($ext, 'ctx', 's', 'show');
        $this->assertSame([
            '1,AGI(agi://127.0.0.1:4580/incoming,${ARG1})',
            'n,ExecIf($["${AGISTATUS}"="FAILURE"]?AGI(itd_bitrix_incoming.js,${ARG1}))',
            'n,AGI(agi://127.0.0.1:4580/hangup,out)',
            'n,ExecIf($["${AGISTATUS}"="FAILURE"]?AGI(itd_bitrix_hangup.js,out))',
            'n,AGI(agi://127.0.0.1:4580/show)',
            'n,ExecIf($["${AGISTATUS}"="FAILURE"]?AGI(itd_bitrix_show.js))',
        ], self::extenLines($ext->generateConf(), 'ctx', 's'));
    }

    public function testStepsAreTheShippedExecutables()
    {
        foreach (['incoming', 'show', 'outgoing', 'hangup'] as $step) {
            // package.mjs refuses to pack a module whose build lacks one of them
            $this->assertStringContainsString("'" . AgiStep::script($step) . "'", file_get_contents(__DIR__ . '/../../scripts/package.mjs'), $step);
        }
    }
}
