" Slipway: :SlipwayBuild, :SlipwayTrigger, :SlipwayCancel, :SlipwayLogs and :SlipwayStatus with the default settings; call
" require('slipway').setup({ cmd = { 'slipway', '--state-dir', '…' } }) to change them.
if exists('g:loaded_slipway') | finish | endif
let g:loaded_slipway = 1
lua require('slipway').setup()
