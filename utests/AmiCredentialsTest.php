<?php

/** FreePBX's manager user for the resident service (click-to-call): loopback only, all or nothing. */
class AmiCredentialsTest extends BitrixTestCase
{
    private function env(array $values)
    {
        $config = new TestConfig();
        $config->values = $values + ['ASTAGIDIR' => $this->tmp . '/agi-bin'];
        $this->freepbx->register('Config', $config);
        return $this->bitrix()->amiCredentials()->environment();
    }

    public function testFreePBXsManagerUser()
    {
        $this->assertSame(['ITD_BITRIX_AMI_USER' => 'admin', 'ITD_BITRIX_AMI_SECRET' => 'amp111', 'ITD_BITRIX_AMI_PORT' => '5038'],
            $this->env(['AMPMGRUSER' => 'admin', 'AMPMGRPASS' => 'amp111', 'ASTMANAGERHOST' => 'localhost', 'ASTMANAGERPORT' => '5038']));
        $this->assertSame('5039', $this->env(['AMPMGRUSER' => 'admin', 'AMPMGRPASS' => 'x', 'ASTMANAGERPORT' => '5039'])['ITD_BITRIX_AMI_PORT']);
        $this->assertSame('5038', $this->env(['AMPMGRUSER' => 'admin', 'AMPMGRPASS' => 'x'])['ITD_BITRIX_AMI_PORT']);
    }

    public function testNothingUnlessComplete()
    {
        $this->assertSame([], $this->env(['AMPMGRUSER' => 'admin']));
        $this->assertSame([], $this->env(['AMPMGRUSER' => 'admin', 'AMPMGRPASS' => 'x', 'ASTMANAGERPORT' => 'abc']));
        $this->assertSame([], $this->env(['AMPMGRUSER' => 'admin', 'AMPMGRPASS' => 'x', 'ASTMANAGERHOST' => '10.0.0.5']), 'loopback only');
    }
}
