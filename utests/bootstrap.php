<?php
/** PHPUnit bootstrap: framework test doubles, then the module's own classes. */
error_reporting(E_ALL);
define('FREEPBX_IS_AUTH', true);
require __DIR__ . '/stubs/freepbx.php';
require __DIR__ . '/stubs/extensions.php';
require __DIR__ . '/../Bitrix.class.php';
require __DIR__ . '/../Backup.php';
require __DIR__ . '/../Restore.php';
require __DIR__ . '/../functions.inc.php';
require __DIR__ . '/BitrixTestCase.php';
