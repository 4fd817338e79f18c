-- Drives the Neovim plugin (clients/nvim) headless with no `slipway` on PATH: every command says
-- once what to install and raises no Lua error, the statusline stays empty, completion still
-- answers, and :checkhealth slipway reports the missing executable. Writes what it saw as JSON to
-- $OUT, then quits.
--
-- Environment: PATH (a folder without slipway), APP (a folder named my-app), OUT.
local env = vim.env
local out = { commands = {} }
local messages = {}
vim.notify = function(msg) table.insert(messages, msg) end

local ok, err = pcall(function()
  local slipway = require("slipway")
  slipway.setup()
  vim.cmd("cd " .. env.APP)
  for _, command in ipairs({ "SlipwayBuild", "SlipwayTrigger", "SlipwayCancel", "SlipwayLogs", "SlipwayStatus" }) do
    local before = #messages
    local ran, e = pcall(vim.cmd, command)
    vim.wait(5000, function() return #messages > before end, 20)  -- messages are shown on the main loop
    vim.wait(100, function() return false end, 20)                -- and a second one would follow at once
    table.insert(out.commands, { command = command, ran = ran, error = ran and vim.NIL or tostring(e),
                                 messages = vim.list_slice(messages, before + 1, #messages) })
  end
  out.statusline = slipway.statusline()
  out.completion = vim.fn.getcompletion("SlipwayLogs ", "cmdline")
  vim.cmd("checkhealth slipway")
  out.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
end)
out.ok = ok
if not ok then out.error = tostring(err) end
local f = io.open(env.OUT, "w")
f:write(vim.fn.json_encode(out))
f:close()
vim.cmd("qa!")
