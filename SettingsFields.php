<?php
namespace FreePBX\modules\Bitrix;

/** The settings page's fields: sections of rows, each with its label, help and range from the schema. */
class SettingsFields
{
    /**
     * The one field table the form is rendered from: sections of rows.
     * type: radio | text | password | number | select | dids; $s: the schema's properties (ranges).
     */
    public static function table(array $s)
    {
        $range = function ($key) use ($s) {
            return [
                'min' => isset($s[$key]['minimum']) ? $s[$key]['minimum'] : null,
                'max' => isset($s[$key]['maximum']) ? $s[$key]['maximum'] : null,
            ];
        };
        return [
            'connection' => [
                'title' => _('Connection to Bitrix24'),
                'fields' => [
                    ['key' => 'enabled', 'type' => 'radio', 'label' => _('Report calls to Bitrix24'),
                        'help' => _('Master switch. When off, no dialplan is generated and calls are not touched.')],
                    ['key' => 'authMode', 'type' => 'radio', 'label' => _('Connect with'),
                        'options' => ['webhook' => _('Incoming webhook'), 'app' => _('Local application')],
                        'help' => _('An incoming webhook is the simplest. Bitrix24 may refuse telephony calls made with a webhook (WRONG_AUTH_TYPE); then use a local application.')],
                    ['key' => 'webhookUrl', 'type' => 'text', 'label' => _('Webhook URL'), 'group' => 'webhook',
                        'placeholder' => 'https://example.bitrix24.ru/rest/1/abcdef1234567890/',
                        'help' => _('Bitrix24 → Developer resources → Other → Incoming webhook, with the telephony, user and crm permissions. The secret part of a saved URL is not shown again; leave the field empty to keep it.')],
                    ['key' => 'appPortalUrl', 'type' => 'text', 'label' => _('Portal address'), 'group' => 'app',
                        'placeholder' => 'https://example.bitrix24.ru',
                        'help' => _('The address of your Bitrix24, e.g. https://example.bitrix24.ru.')],
                    ['key' => 'appClientId', 'type' => 'text', 'label' => _('Application ID (client_id)'), 'group' => 'app',
                        'placeholder' => 'local.0123456789abcd.12345678',
                        'help' => _('From the local application card in Bitrix24 (server application with the telephony, user and crm permissions).')],
                    ['key' => 'appClientSecret', 'type' => 'password', 'label' => _('Application key (client_secret)'), 'group' => 'app',
                        'help' => _('Not shown again once saved; leave the field empty to keep it.')],
                    ['key' => 'httpsProxy', 'type' => 'text', 'label' => _('HTTPS proxy'),
                        'placeholder' => 'http://proxy.example.lan:3128',
                        'help' => _('Only if this PBX reaches the internet through a proxy: http://host:port, or http://user:password@host:port. Every request to Bitrix24 then goes through it (a CONNECT tunnel; the connection to Bitrix24 inside it stays encrypted and verified). The saved password is shown masked; leave the mask to keep it. Empty: direct connections.')],
                ],
            ],
            'calls' => [
                'title' => _('Calls to report'),
                'fields' => [
                    ['key' => 'dids', 'type' => 'dids', 'label' => _('DIDs'),
                        'help' => _('Inbound calls to these numbers are reported. Pick inbound routes or type numbers, one per line; +7495…, 8495… and 7495… are the same number.')],
                    ['key' => 'defaultUserId', 'type' => 'number', 'label' => _('Default Bitrix24 user ID'), 'min' => 1, 'max' => null,
                        'help' => _('The user who owns a call before anyone answers and every missed call.')],
                    ['key' => 'countryCode', 'type' => 'text', 'label' => _('Country code'), 'placeholder' => '7',
                        'help' => _('Used to read national numbers: with 7, 8495… and 495… become +7495…. Leave empty to send numbers as they come.')],
                ],
            ],
            'outgoing' => [
                'title' => _('Outgoing calls'),
                'fields' => [
                    ['key' => 'outgoingEnabled', 'type' => 'radio', 'label' => _('Report outgoing calls'),
                        'help' => _('Calls that leave through a trunk appear in the CRM for the Bitrix24 user whose extension made them, with the result (answered, busy, no answer…), the talk time and the recording. Calls forwarded out from an inbound call stay part of that inbound call. Saving a change asks for Apply Config.')],
                    ['key' => 'outgoingRoutes', 'type' => 'routes', 'label' => _('Outbound routes'),
                        'help' => _('Only calls through the ticked outbound routes are reported. Tick none to report every route.')],
                    ['key' => 'outgoingShowCard', 'type' => 'radio', 'label' => _('Show the call card to the caller'),
                        'help' => _('Pop the call card in Bitrix24 for the user who makes the call, while it rings.')],
                ],
            ],
            'clicktocall' => [
                'title' => _('Click-to-call from Bitrix24'),
                'fields' => [
                    ['key' => 'clickToCall', 'type' => 'radio', 'label' => _('Click-to-call'),
                        'help' => _('A user clicks a phone number in Bitrix24: their own extension rings first, and when they pick up the number is dialled through the outbound routes with their outbound caller ID. No address of the PBX is opened to the internet: the PBX fetches the clicks from Bitrix24. Needs the local application (Connect) and the module\'s resident service. Then in Bitrix24, Telephony → Settings → Default number for outgoing calls: choose this application.')],
                    ['key' => 'clickToCallRewrite', 'type' => 'rewrite', 'label' => _('Number rewrite'),
                        'placeholder' => "+7 => 8\n+ => 810",
                        'help' => _('Bitrix24 sends numbers as +7…; rewrite them into what your outbound routes dial, one rule per line: the prefix, "=>", then what replaces it. The first rule that fits is used.')],
                ],
            ],
            'crm' => [
                'title' => _('CRM'),
                'fields' => [
                    ['key' => 'lookupCallerName', 'type' => 'radio', 'label' => _('Caller name from the CRM'),
                        'help' => _('Set the caller ID name to the contact, company or lead found in Bitrix24 before the call rings.')],
                    ['key' => 'createCrmEntity', 'type' => 'radio', 'label' => _('Create CRM entries for new numbers'),
                        'help' => _('Let Bitrix24 create a lead or contact for a number it does not know.')],
                    ['key' => 'cardMode', 'type' => 'radio', 'label' => _('Show the call card'),
                        'options' => ['ringing' => _('While the phones ring'), 'answer' => _('On answer'), 'off' => _('Never')],
                        'help' => _('While the phones ring: the card pops up in Bitrix24 for everyone whose phone rings (queue members, ring group members, the extension, follow-me) and is hidden for the others as soon as one answers; this needs the resident service, without it the card pops up on answer. On answer: for the operator who answered only. Saving a change asks for Apply Config.')],
                    ['key' => 'attachRecordings', 'type' => 'radio', 'label' => _('Attach recordings'),
                        'help' => _('Upload the call recording to the call in Bitrix24 once the file is complete.')],
                ],
            ],
            'service' => [
                'title' => _('Resident service'),
                'fields' => [
                    ['key' => 'serviceEnabled', 'type' => 'radio', 'label' => _('Run the calls through the resident service'),
                        'help' => _('One long-running process (itd_bitrix.js serve), run by FreePBX\'s Process Management (pm2) module as the asterisk user, answers the call steps over FastAGI on this PBX only: no Node.js start-up per call, one kept connection to Bitrix24, the outbox sent every few seconds, click-to-call. Whenever it does not answer, the same step runs as a per-call AGI script, so no call waits for it. Without the pm2 module, or when off, the per-call AGI scripts handle every call. Saving a change asks for Apply Config.')],
                    ['key' => 'servicePort', 'type' => 'number', 'label' => _('Service port')] + $range('servicePort') + [
                        'help' => _('The loopback port the resident service listens on (127.0.0.1 only). Port 4573 is FreePBX\'s own FastAGI server. Saving a change restarts the service and asks for Apply Config.')],
                ],
            ],
            'advanced' => [
                'title' => _('Timing and storage'),
                'fields' => [
                    ['key' => 'incomingTimeoutMs', 'type' => 'number', 'label' => _('Incoming call time budget (ms)')] + $range('incomingTimeoutMs') + [
                        'help' => _('The longest a new call waits for the CRM lookup before it goes on to its destination.')],
                    ['key' => 'showTimeoutMs', 'type' => 'number', 'label' => _('Answer time budget (ms)')] + $range('showTimeoutMs') + [
                        'help' => _('The longest the answering operator waits for the call card request before the call connects.')],
                    ['key' => 'outgoingTimeoutMs', 'type' => 'number', 'label' => _('Outgoing call time budget (ms)')] + $range('outgoingTimeoutMs') + [
                        'help' => _('The longest an outgoing call waits for its registration in Bitrix24 before the trunk is dialled; the rest is sent later.')],
                    ['key' => 'hangupTimeoutMs', 'type' => 'number', 'label' => _('Hangup time budget (ms)')] + $range('hangupTimeoutMs') + [
                        'help' => _('After this, unfinished work at hangup is left to the retry job.')],
                    ['key' => 'retentionHours', 'type' => 'number', 'label' => _('Keep finished calls (hours)')] + $range('retentionHours') + [
                        'help' => _('Finished calls older than this are removed from the local database.')],
                    ['key' => 'retryGiveUpHours', 'type' => 'number', 'label' => _('Give up retrying after (hours)')] + $range('retryGiveUpHours') + [
                        'help' => _('Requests that could not reach Bitrix24 are retried every minute until this age.')],
                    ['key' => 'staleCallHours', 'type' => 'number', 'label' => _('Finish lost calls after (hours)')] + $range('staleCallHours') + [
                        'help' => _('A call still open after this long is treated as lost: its hangup never reached the module (for example, Asterisk crashed or was restarted). The retry job then finishes it in Bitrix24 with what is known. Set it above your longest calls.')],
                    ['key' => 'rateLimitPerSecond', 'type' => 'number', 'label' => _('Requests per second'), 'step' => 'any'] + $range('rateLimitPerSecond') + [
                        'help' => _('Bitrix24 allows 2 requests per second on most plans and 5 on Enterprise.')],
                    ['key' => 'logLevel', 'type' => 'select', 'label' => _('Log level'),
                        'options' => ['error' => _('Errors'), 'warn' => _('Warnings'), 'info' => _('Information'), 'debug' => _('Debug')],
                        'help' => _('How much the AGI scripts write to /var/log/asterisk/itd_bitrix.log.')],
                ],
            ],
        ];
    }
}
