<?php

use FreePBX\modules\Bitrix\Dialplan\AgiStep;
use FreePBX\modules\Bitrix\Dialplan\HangupHandler;

class HangupHandlerTest extends BitrixTestCase
{
    public function testHandlerRunsTheHangupStepAndReturns()
    {
        $ext = new extensions();
        HangupHandler::add($ext, new AgiStep());
        $this->assertSame("[itd-bitrix-hangup]\n"
            . "exten => s,1,AGI(itd_bitrix_hangup.js)\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($ext->generateConf(), 'itd-bitrix-hangup'));
    }
}
