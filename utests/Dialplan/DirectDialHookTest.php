<?php

use FreePBX\modules\Bitrix\Dialplan\DirectDialHook;
use FreePBX\modules\Bitrix\Dialplan\Problem;

/** Our U() on a Dial straight to an extension (macro-dial-one, before dialapp). */
class DirectDialHookTest extends BitrixTestCase
{
    const HOOK = 'n,ExecIf($["${BITRIX_UNIQUEID}"!="" & "${NODEST}"="" & "${DEXTEN:-1}"!="#" & ${REGEX("U[(].*[)]" ${D_OPTIONS})}=0]?Set(D_OPTIONS=${D_OPTIONS}U(itd-bitrix-answered^${DEXTEN})))';

    public function testRightBeforeTheDialWithTheDialledExtension()
    {
        foreach ([17, 16] as $fpbx) {
            $ext = self::frameworkDialplan(self::ROUTES, $fpbx);
            $old = self::extenLines($ext->generateConf(), 'macro-dial-one', 's');
            $this->assertSame([], DirectDialHook::add($ext));
            $lines = self::extenLines($ext->generateConf(), 'macro-dial-one', 's');
            $at = array_search('n(dialapp),Noop()', $lines, true);
            $this->assertSame(self::HOOK, $lines[$at - 1], "FreePBX $fpbx");
            $this->assertSame('n,ExecIf($["${DIRECTION}" = "INBOUND"]?Set(D_OPTIONS=${STRREPLACE(D_OPTIONS,T)}I))', $lines[$at - 2], 'after FreePBX has set D_OPTIONS');
            $this->assertCount(count($old) + 1, $lines);
        }
    }

    public function testWithoutTheDialappLabelTheProblemIsReported()
    {
        $ext = new extensions();
        $ext->add('macro-dial-one', 's', '', new ext_noop('old'));
        $before = $ext->generateConf();
        $this->assertEquals([new Problem(Problem::DIRECT_HOOK)], DirectDialHook::add($ext));
        $this->assertSame($before, $ext->generateConf());
    }
}
