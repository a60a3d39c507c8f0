<?php

use FreePBX\modules\Bitrix\InboundRoutes;

/** Core's inbound routes: the page's picker and the routes a DID list selects. */
class InboundRoutesTest extends BitrixTestCase
{
    private function routes(array $rows)
    {
        $this->core->dids = $rows;
        return new InboundRoutes($this->freepbx);
    }

    private static function settings(array $dids, $cc = '7')
    {
        return ['dids' => $dids, 'countryCode' => $cc];
    }

    public function testListedRoutesAreNamedAsCoreNamesThem()
    {
        $routes = $this->routes(self::ROUTES);
        $this->assertSame([
            ['context' => 'ext-did-0002', 'exten' => '74951234567'],
            ['context' => 'ext-did-0001', 'exten' => '84957654321/79161112233'],
        ], $routes->listed(self::settings(['+7 (495) 123-45-67', '74957654321'])));
        $this->assertSame([], $routes->listed(self::settings(['74957654321'], '')), 'without country code 8… and 7… differ');
        $this->assertSame([], $routes->listed(self::settings(['+15550001111'])));
    }

    public function testPatternRouteIsSelectedByAListedDidItMatches()
    {
        $routes = $this->routes([['extension' => '_7495XXXXXXX', 'cidnum' => ''], ['extension' => '_8800XXXXXXX', 'cidnum' => '']]);
        $this->assertSame([['context' => 'ext-did-0002', 'exten' => '_7495XXXXXXX']], $routes->listed(self::settings(['84951234567'])));
    }

    public function testPickerListsPlainDidsOnce()
    {
        $routes = $this->routes(self::ROUTES + [4 => ['extension' => '74951234567', 'cidnum' => '7916', 'description' => 'again'],
            5 => ['extension' => '_7495X.', 'cidnum' => '', 'description' => 'pattern']]);
        $this->assertSame([
            ['did' => '74951234567', 'description' => 'Main line'],
            ['did' => '84957654321', 'description' => 'VIP caller'],
            ['did' => '74990000000', 'description' => 'Not listed'],
        ], $routes->forPicker());
    }

    public function testCoreThatCannotAnswerGivesNoRoutes()
    {
        $this->assertSame([], (new InboundRoutes(new \FreePBX()))->forPicker(), 'no Core registered: it throws');
    }
}
