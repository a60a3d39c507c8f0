<?php
/**
 * Buttons of the Connection section: OAuth Connect (local application) and Test connection.
 * In scope: $authMode, $oauthReturnUrl, $h.
 */
ob_start();
?>
                    <div class="col-md-9">
                        <button type="button" class="btn btn-default" id="itd-bitrix-connect"><i class="fa fa-plug"></i> <?php echo $h(_('Connect')); ?></button>
                        <span class="itd-bitrix-connect-result"></span>
                    </div>
<?php
$row = [
    'id' => 'itd-bitrix-connect',
    'labelFor' => 'itd-bitrix-connect',
    'label' => _('Authorize'),
    'help' => sprintf(_('Save the application settings first. Connect opens Bitrix24 in this browser; after you allow access, Bitrix24 sends you back here and the PBX stores the tokens. Set the application\'s handler path in Bitrix24 to %s'), $oauthReturnUrl),
    'classes' => 'element-container' . ($authMode === 'app' ? '' : ' hidden'),
    'group' => 'app',
    'control' => ob_get_clean(),
];
include __DIR__ . '/row.php';

ob_start();
?>
                    <div class="col-md-9">
                        <button type="button" class="btn btn-default" id="itd-bitrix-check"><i class="fa fa-stethoscope"></i> <?php echo $h(_('Test connection')); ?></button>
                        <div class="itd-bitrix-check-result" aria-live="polite"></div>
                    </div>
<?php
$row = [
    'id' => 'itd-bitrix-check',
    'labelFor' => 'itd-bitrix-check',
    'label' => _('Connection test'),
    'help' => _('Asks Bitrix24 with the saved settings whether the portal answers, the credentials are accepted and the telephony, user and crm permissions are granted. Save your changes first.'),
    'classes' => 'element-container',
    'group' => '',
    'control' => ob_get_clean(),
];
include __DIR__ . '/row.php';
