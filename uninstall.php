<?php
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
// \FreePBX\modules\Bitrix::uninstall() removes the retry's crontab line, the module's files in
// /var/lib/asterisk/agi-bin (FreePBX never removes them), /etc/asterisk/itd_bitrix.json and
// the call database. The framework then drops the module's kvstore (its settings).
if (function_exists('out')) {
    out(_('Bitrix24 Integration removed: AGI scripts, settings file and call database deleted.'));
}
