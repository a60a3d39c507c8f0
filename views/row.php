<?php
/**
 * The frame of one settings row, as FreePBX draws them: element-container with the label and
 * its help icon on the left, the control on the right, and the help text the icon pops up.
 * In scope: $row (id, labelFor, label, help, classes, group, control = escaped HTML), $h.
 */
?>
<div class="<?php echo $h($row['classes']); ?>"<?php if ($row['group'] !== '') { ?> data-itd-group="<?php echo $h($row['group']); ?>"<?php } ?>>
    <div class="row">
        <div class="col-md-12">
            <div class="row">
                <div class="form-group">
                    <div class="col-md-3">
                        <label class="control-label" for="<?php echo $h($row['labelFor']); ?>"><?php echo $h($row['label']); ?></label>
                        <i class="fa fa-question-circle fpbx-help-icon" data-for="<?php echo $h($row['id']); ?>"></i>
                    </div>
<?php echo $row['control']; ?>
                </div>
            </div>
        </div>
    </div>
    <div class="row">
        <div class="col-md-12">
            <span id="<?php echo $h($row['id']); ?>-help" class="help-block fpbx-help-block"><?php echo $h($row['help']); ?></span>
        </div>
    </div>
</div>
