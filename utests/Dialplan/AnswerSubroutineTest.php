<?php

use FreePBX\modules\Bitrix\Dialplan\AgiStep;
use FreePBX\modules\Bitrix\Dialplan\AnswerSubroutine;

/** [itd-bitrix-answered]: the answer fact on the inbound channel first, then the show step for its operator only. */
class AnswerSubroutineTest extends BitrixTestCase
{
    public function testFactFirstFirstAnswerWinsShowOnlyForTheWinner()
    {
        $ext = new extensions();
        AnswerSubroutine::add($ext, new AgiStep());
        $lines = self::extenLines($ext->generateConf(), 'itd-bitrix-answered', 's');
        $this->assertSame([
            '1,Set(BITRIX_OPERATOR=${ARG1})',
            'n,GosubIf($["${BITRIX_OPERATOR}"=""]?itd-bitrix-operator,s,1(${CHANNEL(name)}))',
            'n,ExecIf($["${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})}"=""]?Set(SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})=${BITRIX_OPERATOR}@${STRFTIME(,,%s.%3q)}))',
            'n,Set(BITRIX_ANSWER_SEEN=${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})})',
            'n,GotoIf($["${CUT(BITRIX_ANSWER_SEEN,@,1)}"!="${BITRIX_OPERATOR}"]?done)',
            'n,AGI(itd_bitrix_show.js,${BITRIX_OPERATOR})',
            'n(done),Return()',
        ], $lines);
        $fact = array_search('n,ExecIf($["${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})}"=""]?Set(SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})=${BITRIX_OPERATOR}@${STRFTIME(,,%s.%3q)}))', $lines, true);
        $this->assertLessThan(array_search('n,AGI(itd_bitrix_show.js,${BITRIX_OPERATOR})', $lines, true), $fact, 'recorded before any process starts');
    }
}
