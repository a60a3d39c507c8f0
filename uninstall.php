<?php
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
// The framework runs this file before \FreePBX\modules\Bitrix::uninstall(), which does the work
// and says what it did: how many calls waiting in the outbox will not reach Bitrix24, then the
// removal of the retry's crontab line, the module's files in /var/lib/asterisk/agi-bin (FreePBX
// never removes them), /etc/asterisk/itd_bitrix.json and the call database. The framework then
// drops the module's kvstore (its settings).
