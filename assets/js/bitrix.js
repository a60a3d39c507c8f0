/* Bitrix24 Integration settings page (FreePBX loads every assets/js/*.js on the module's pages). */
(function ($) {
  'use strict';

  function ajaxUrl(command) {
    var base = (window.FreePBX && window.FreePBX.ajaxurl) || 'ajax.php';
    return base + '?module=bitrix&command=' + encodeURIComponent(command);
  }

  $(function () {
    var $form = $('#itdbitrix');
    if (!$form.length) {
      return;
    }
    var i18n = $form.data('i18n') || {};

    // Show the webhook or the local-application rows.
    function showGroup() {
      var mode = $form.find('input[name="authMode"]:checked').val() || 'webhook';
      $form.find('[data-itd-group]').each(function () {
        $(this).toggleClass('hidden', $(this).attr('data-itd-group') !== mode);
      });
    }
    $form.on('change', 'input[name="authMode"]', showGroup);
    showGroup();

    // Test connection: runs `itd_bitrix.js check --json` on the PBX; messages shown as text.
    $('#itd-bitrix-check').on('click', function () {
      var $btn = $(this);
      var $out = $('.itd-bitrix-check-result').empty().removeClass('text-danger text-success');
      $out.append($('<span class="text-muted"/>').text(i18n.checking || '…'));
      $btn.prop('disabled', true);
      $.getJSON(ajaxUrl('check')).done(function (res) {
        $out.empty();
        if (!res || !$.isArray(res.checks) || !res.checks.length) {
          $out.addClass('text-danger').text((res && (res.message || res.error)) || i18n.checkFailed);
          return;
        }
        $out.append($('<p/>').addClass(res.ok ? 'text-success' : 'text-danger')
          .text(res.ok ? i18n.allGood : i18n.problems));
        var $ul = $('<ul class="list-unstyled itd-bitrix-checks"/>');
        $.each(res.checks, function (_, c) {
          var label = (i18n.checks && i18n.checks[c.id]) || c.id;
          var $li = $('<li/>').addClass(c.ok ? 'text-success' : 'text-danger');
          $li.append($('<i class="fa"/>').addClass(c.ok ? 'fa-check' : 'fa-times'), ' ');
          $li.append($('<strong/>').text(label));
          if (c.message) {
            $li.append(document.createTextNode(': ' + c.message));
          }
          $ul.append($li);
        });
        $out.append($ul);
        // Keys of the settings file this version does not know (ignored): worth a look, not a failure.
        if ($.isArray(res.warnings) && res.warnings.length) {
          var $warn = $('<ul class="list-unstyled itd-bitrix-warnings text-warning"/>');
          $.each(res.warnings, function (_, w) {
            $warn.append($('<li/>').append($('<i class="fa fa-exclamation-triangle"/>'), ' ', document.createTextNode(w)));
          });
          $out.append($('<p class="text-warning"/>').text(i18n.warnings || ''), $warn);
        }
      }).fail(function () {
        $out.empty().addClass('text-danger').text(i18n.checkFailed);
      }).always(function () {
        $btn.prop('disabled', false);
      });
    });

    // Status: can this PBX run the AGI scripts? The self-test's one line (the copy in agi-bin the AGIs load).
    var $selftest = $('#itd-bitrix-selftest');
    if ($selftest.length) {
      $.getJSON(ajaxUrl('selftest')).done(function (res) {
        $selftest.removeClass('text-muted').addClass(res && res.ok ? 'text-success' : 'text-danger')
          .text((res && res.message) || i18n.selftestFailed);
      }).fail(function () {
        $selftest.removeClass('text-muted').addClass('text-danger').text(i18n.selftestFailed);
      });
    }

    // Connect: the PBX remembers a one-time state and returns Bitrix24's authorize URL.
    $('#itd-bitrix-connect').on('click', function () {
      var $out = $('.itd-bitrix-connect-result').removeClass('text-danger').text(i18n.connecting || '');
      $.getJSON(ajaxUrl('oauthstart')).done(function (res) {
        if (res && res.ok && res.url) {
          window.location.href = res.url;
        } else {
          $out.addClass('text-danger').text((res && res.message) || i18n.checkFailed);
        }
      }).fail(function () {
        $out.addClass('text-danger').text(i18n.checkFailed);
      });
    });
  });
}(window.jQuery));
