<?php

class ModuleXmlTest extends BitrixTestCase
{
    public function testModuleXml()
    {
        $xml = simplexml_load_file(__DIR__ . '/../module.xml');
        $package = json_decode(file_get_contents(__DIR__ . '/../package.json'), true);
        $this->assertSame($package['version'], (string)$xml->version, 'one version for module.xml and package.json');
        $this->assertSame('bitrix', (string)$xml->rawname);
        $this->assertSame('Connectivity', (string)$xml->category);
        $this->assertTrue(isset($xml->menuitems->itdbitrix));
        $this->assertSame('16.0', (string)$xml->depends->version);
        $this->assertSame('core ge 16.0', (string)$xml->depends->module);
        $supported = [];
        foreach ($xml->supported->version as $v) {
            $supported[] = (string)$v;
        }
        $this->assertSame(['16.0', '17.0'], $supported);
        $this->assertStringContainsString('*' . $package['version'] . '*', (string)$xml->changelog);
        foreach (['name', 'publisher', 'license', 'licenselink', 'description'] as $k) {
            $this->assertNotSame('', trim((string)$xml->$k), $k);
        }
        $this->assertFileExists(__DIR__ . '/../' . ucfirst((string)$xml->rawname) . '.class.php');
        $this->assertFileExists(__DIR__ . '/../page.itdbitrix.php');
    }
}
