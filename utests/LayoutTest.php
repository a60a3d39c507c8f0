<?php

/**
 * Where the module's classes live. FreePBX's autoloader finds FreePBX\modules\Bitrix\X\Y in
 * modules/bitrix/X/Y.php (Backup.php and Restore.php are found that way); Bitrix.class.php
 * also requires every one of them, so the module loads the same with or without it.
 */
class LayoutTest extends BitrixTestCase
{
    const NS = 'FreePBX\\modules\\Bitrix\\';
    /** PHP files of the module that hold no class of that namespace. */
    const NOT_CLASSES = ['Bitrix.class.php', 'functions.inc.php', 'install.php', 'uninstall.php', 'page.itdbitrix.php'];

    private static function root()
    {
        return realpath(__DIR__ . '/..');
    }

    public function testEveryClassSitsWhereTheFrameworkAutoloaderLooks()
    {
        $n = 0;
        foreach (get_declared_classes() as $class) {
            if (strpos($class, self::NS) !== 0) {
                continue;
            }
            $path = str_replace('\\', '/', substr($class, strlen(self::NS))) . '.php';
            $this->assertSame(self::root() . '/' . $path, (new ReflectionClass($class))->getFileName(), $class);
            $n++;
        }
        $this->assertGreaterThan(10, $n);
    }

    public function testBitrixClassLoadsEveryFileOfTheModule()
    {
        $root = self::root();
        foreach (array_merge(glob($root . '/*.php'), glob($root . '/Dialplan/*.php')) as $file) {
            $rel = substr($file, strlen($root) + 1);
            if (in_array($rel, self::NOT_CLASSES, true)) {
                continue;
            }
            $class = self::NS . str_replace('/', '\\', substr($rel, 0, -4));
            $this->assertTrue(class_exists($class, false) || trait_exists($class, false), "$rel should declare $class and be loaded with the module");
        }
    }

    /** Rooms stay small enough to read in one sitting (issue 9: no PHP file over ~300 lines). */
    public function testNoPhpFileOfTheModuleIsOverAboutThreeHundredLines()
    {
        $root = self::root();
        $long = [];
        foreach (array_merge(glob($root . '/*.php'), glob($root . '/Dialplan/*.php'), glob($root . '/views/*.php')) as $file) {
            $n = count(file($file));
            if ($n > 320) {
                $long[] = substr($file, strlen($root) + 1) . ": $n lines";
            }
        }
        $this->assertSame([], $long);
    }
}
