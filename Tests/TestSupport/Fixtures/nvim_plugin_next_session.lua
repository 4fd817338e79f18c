-- Drives the Neovim plugin (clients/nvim) headless in a new session against the state that
-- nvim_plugin_check.lua left (hello-app built once, bad failed once): the last builds load on
-- attach (statusline, :SlipwayLogs), completion names the images, :checkhealth slipway is
-- happy, :SlipwayTrigger builds again, a build whose compiler lines name project files fills
-- the quickfix list with those files and lines, and :SlipwayCancel ends a running build. Writes
-- what it saw as JSON to $OUT, then quits.
--
-- Environment: SLIPWAY, STATE, APP, COMPILE_APP, SLOW_APP, OUT.
local env = vim.env
local out = {}
local messages = {}
vim.notify = function(msg) table.insert(messages, msg) end

local ok, err = pcall(function()
  local slipway = require("slipway")
  slipway.setup({ cmd = { env.SLIPWAY, "--state-dir", env.STATE, "--build-network", "none" } })

  local function wait_built(name)
    vim.wait(120000, function() local s = slipway.state(name).state return s == "ready" or s == "failed" end, 50)
    -- The last notification is scheduled after the state changes: let it run.
    vim.wait(200, function() return false end, 20)
  end

  -- Attach: the statusline and :SlipwayLogs show the image's last build, and another image's.
  vim.cmd("cd " .. env.APP)
  out.firstStatusline = slipway.statusline()
  vim.wait(20000, function() return slipway.statusline() ~= "" end, 20)
  out.statusline = slipway.statusline()
  slipway.statusline("bad")
  vim.wait(20000, function() return slipway.statusline("bad") ~= "" end, 20)
  out.badStatusline = slipway.statusline("bad")
  vim.cmd("SlipwayLogs")
  out.logLines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  vim.cmd("close")

  -- Completion of the commands' image argument.
  out.completion = vim.fn.getcompletion("SlipwayLogs ", "cmdline")
  out.cancelCompletion = vim.fn.getcompletion("SlipwayCancel h", "cmdline")

  -- :checkhealth slipway
  vim.cmd("checkhealth slipway")
  out.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  vim.cmd("tabclose")

  -- :SlipwayTrigger builds the image again and follows the build.
  vim.cmd("SlipwayTrigger")
  out.triggerStatusline = slipway.statusline()
  wait_built("hello-app")
  out.afterTrigger = slipway.statusline()

  -- Compiler lines that name files of the project fill the quickfix list with them.
  vim.fn.mkdir(env.COMPILE_APP .. "/src", "p")
  vim.fn.writefile({ "int main(void) {", "  return 0", "}" }, env.COMPILE_APP .. "/main.c")
  vim.fn.writefile({ "int f(void) {", "", "", "", "", "", "  return x;", "}" }, env.COMPILE_APP .. "/src/util.c")
  vim.fn.writefile({ "import sys", "", "raise SystemExit(sys.argv[9])" }, env.COMPILE_APP .. "/x.py")
  vim.fn.writefile({
    [[echo "error: main.c:2: expected ';' before '}' token" >&2]],
    [[echo "$PWD/src/util.c:7:10: error: 'x' undeclared" >&2]],
    [[echo 'Traceback (most recent call last):' >&2]],
    [[echo "  File \"$PWD/x.py\", line 3, in <module>" >&2]],
    [[echo "gone.c:9: error: a file that is not in the project" >&2]],
    "exit 1",
  }, env.COMPILE_APP .. "/build.sh")
  vim.fn.writefile({ "web: ./main" }, env.COMPILE_APP .. "/Procfile")
  vim.cmd("cd " .. env.COMPILE_APP)
  vim.cmd("SlipwayBuild compile")
  wait_built("compile")
  out.compileState = slipway.state("compile").state
  out.quickfix = {}
  for _, item in ipairs(vim.fn.getqflist()) do
    table.insert(out.quickfix, { file = item.bufnr > 0 and vim.fn.fnamemodify(vim.fn.bufname(item.bufnr), ":p") or "",
                                 lnum = item.lnum, col = item.col, text = item.text })
  end

  -- :SlipwayCancel ends the image's running build.
  vim.fn.mkdir(env.SLOW_APP, "p")
  vim.fn.writefile({ "echo started", "sleep 600" }, env.SLOW_APP .. "/build.sh")
  vim.fn.writefile({ "web: ./main" }, env.SLOW_APP .. "/Procfile")
  vim.cmd("cd " .. env.SLOW_APP)
  vim.cmd("SlipwayBuild slow")
  local before = #messages
  vim.cmd("SlipwayCancel")
  wait_built("slow")
  out.slowState = slipway.state("slow").state
  out.cancelMessages = vim.list_slice(messages, before + 1, #messages)
end)
out.ok = ok
if not ok then out.error = tostring(err) end
out.messages = messages
local f = io.open(env.OUT, "w")
f:write(vim.fn.json_encode(out))
f:close()
vim.cmd("qa!")
