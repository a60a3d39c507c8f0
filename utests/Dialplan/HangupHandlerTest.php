<?php

use FreePBX\modules\Bitrix\Dialplan\AgiStep;
use FreePBX\modules\Bitrix\Dialplan\HangupHandler;

/** [itd-bitrix-hangup]: the end of the call and the Dial-result operator, then the hangup step. */
class HangupHandlerTest extends BitrixTestCase
{
    public function testHandlerStampsTheEndWorksOutADialAnswerThenRunsTheHangupStep()
    {
        $ext = new extensions();
        HangupHandler::add($ext, new AgiStep());
        $this->assertSame("[itd-bitrix-hangup]\n"
            . "exten => s,1,Set(BITRIX_ENDED=\${STRFTIME(,,%s.%3q)})\n"
            . "exten => s,n,GosubIf(\$[\"\${SHARED(BITRIX_ANSWER)}\"=\"\" & \"\${DIALSTATUS}\"=\"ANSWER\"]?itd-bitrix-operator,s,1(\${DIALEDPEERNAME}))\n"
            . "exten => s,n,AGI(itd_bitrix_hangup.js)\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($ext->generateConf(), 'itd-bitrix-hangup'));
    }
}
