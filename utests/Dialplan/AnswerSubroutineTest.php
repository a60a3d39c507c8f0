<?php

use FreePBX\modules\Bitrix\Dialplan\AgiStep;
use FreePBX\modules\Bitrix\Dialplan\AnswerSubroutine;

/**
 * [itd-bitrix-answered]: the answer fact on the inbound channel first, then the show step for its
 * operator only; a blind transfer's target becomes the last operator and gets the card; the
 * consultation leg of an attended transfer records and shows nothing.
 */
class AnswerSubroutineTest extends BitrixTestCase
{
    const FACT = 'n,ExecIf($["${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})}"=""]?Set(SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})=${BITRIX_OPERATOR}@${STRFTIME(,,%s.%3q)}))';
    const LAST = 'n,ExecIf($["${BITRIX_XFER}"="blind"]?Set(SHARED(BITRIX_LAST_OPERATOR,${BITRIX_CHANNEL})=${BITRIX_OPERATOR}@${STRFTIME(,,%s.%3q)}))';
    const SHOW = 'n,AGI(itd_bitrix_show.js,${BITRIX_OPERATOR})';

    public function testFactFirstFirstAnswerWinsShowOnlyForTheWinnerOrATransferTarget()
    {
        $ext = new extensions();
        AnswerSubroutine::add($ext, new AgiStep());
        $lines = self::extenLines($ext->generateConf(), 'itd-bitrix-answered', 's');
        $this->assertSame([
            '1,GotoIf($["${BITRIX_XFER}"="consult"]?done)',
            'n,Set(BITRIX_OPERATOR=${ARG1})',
            'n,GosubIf($["${BITRIX_OPERATOR}"=""]?itd-bitrix-operator,s,1(${CHANNEL(name)}))',
            self::FACT,
            self::LAST,
            'n,Set(BITRIX_ANSWER_SEEN=${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})})',
            'n,GotoIf($["${BITRIX_XFER}"!="blind" & "${CUT(BITRIX_ANSWER_SEEN,@,1)}"!="${BITRIX_OPERATOR}"]?done)',
            self::SHOW,
            'n(done),Return()',
        ], $lines);
        $show = array_search(self::SHOW, $lines, true);
        $this->assertLessThan($show, array_search(self::FACT, $lines, true), 'recorded before any process starts');
        $this->assertLessThan($show, array_search(self::LAST, $lines, true), 'recorded before any process starts');
    }
}
