<?php
/**
 * Buttons of the Connection section: OAuth Connect (local application) and Test connection.
 * In scope: $authMode, $oauthReturnUrl, $h.
 */
?>
<div class="element-container<?php echo $authMode === 'app' ? '' : ' hidden'; ?>" data-itd-group="app">
    <div class="row">
        <div class="col-md-12">
            <div class="row">
                <div class="form-group">
                    <div class="col-md-3">
                        <label class="control-label" for="itd-bitrix-connect"><?php echo $h(_('Authorize')); ?></label>
                        <i class="fa fa-question-circle fpbx-help-icon" data-for="itd-bitrix-connect"></i>
                    </div>
                    <div class="col-md-9">
                        <button type="button" class="btn btn-default" id="itd-bitrix-connect"><i class="fa fa-plug"></i> <?php echo $h(_('Connect')); ?></button>
                        <span class="itd-bitrix-connect-result"></span>
                    </div>
                </div>
            </div>
        </div>
    </div>
    <div class="row">
        <div class="col-md-12">
            <span id="itd-bitrix-connect-help" class="help-block fpbx-help-block"><?php
                echo $h(sprintf(_('Save the application settings first. Connect opens Bitrix24 in this browser; after you allow access, Bitrix24 sends you back here and the PBX stores the tokens. Set the application\'s handler path in Bitrix24 to %s'), $oauthReturnUrl));
            ?></span>
        </div>
    </div>
</div>
<div class="element-container">
    <div class="row">
        <div class="col-md-12">
            <div class="row">
                <div class="form-group">
                    <div class="col-md-3">
                        <label class="control-label" for="itd-bitrix-check"><?php echo $h(_('Connection test')); ?></label>
                        <i class="fa fa-question-circle fpbx-help-icon" data-for="itd-bitrix-check"></i>
                    </div>
                    <div class="col-md-9">
                        <button type="button" class="btn btn-default" id="itd-bitrix-check"><i class="fa fa-stethoscope"></i> <?php echo $h(_('Test connection')); ?></button>
                        <div class="itd-bitrix-check-result" aria-live="polite"></div>
                    </div>
                </div>
            </div>
        </div>
    </div>
    <div class="row">
        <div class="col-md-12">
            <span id="itd-bitrix-check-help" class="help-block fpbx-help-block"><?php echo $h(_('Asks Bitrix24 with the saved settings whether the portal answers, the credentials are accepted and the telephony, user and crm permissions are granted. Save your changes first.')); ?></span>
        </div>
    </div>
</div>
