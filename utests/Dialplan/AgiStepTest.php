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

    public function testStepsAreTheShippedExecutables()
    {
        foreach (['incoming', 'show', 'hangup'] as $step) {
            // package.mjs refuses to pack a module whose build lacks one of them
            $this->assertStringContainsString("'" . AgiStep::script($step) . "'", file_get_contents(__DIR__ . '/../../scripts/package.mjs'), $step);
        }
    }
}
