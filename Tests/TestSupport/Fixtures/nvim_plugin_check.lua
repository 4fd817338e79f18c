-- Drives the Neovim plugin (clients/nvim) headless against a real slipway: no builder yet (the
-- plugin says how to set one), a successful build of the example app (state, statusline, the
-- logs buffer), then a failed build whose error lines fill the quickfix list. Writes what it
-- saw as JSON to $OUT, then quits. The failing build takes its builder from project.toml.
--
-- Environment: SLIPWAY, STATE, STACK, BUILDPACKS, FIXTURE_BUILDPACKS, APP, BAD_APP, OUT.
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

  -- No builder yet: the plugin says so, and how to set one.
  vim.cmd("cd " .. env.APP)
  vim.cmd("SlipwayBuild")
  vim.wait(5000, function() return #messages > 0 end, 20)  -- messages are shown on the main loop
  out.noBuilder = messages[#messages]

  local function call(method, params)
    local e, r = slipway.call(method, params)
    if e then error(method .. ": " .. vim.inspect(e)) end
    return r
  end
  call("clusterstack/create", { name = "base", id = "io.slipway.test", buildImage = env.STACK .. "/build", runImage = env.STACK .. "/run" })
  call("clusterstore/create", { name = "default", buildpacks = { env.BUILDPACKS .. "/build-script", env.BUILDPACKS .. "/procfile", env.FIXTURE_BUILDPACKS .. "/fail" } })
  call("clusterbuilder/create", { name = "default", stack = "base", store = "default",
    order = { { group = { { id = "slipway/build-script" }, { id = "slipway/procfile" } } } } })
  call("clusterbuilder/create", { name = "failing", stack = "base", store = "default", order = { { group = { { id = "test/fail" } } } } })

  -- A successful build of the folder that is open.
  vim.cmd("SlipwayBuild")
  out.buildingStatusline = slipway.statusline()
  wait_built("hello-app")
  out.state = slipway.state("hello-app").state
  out.statusline = slipway.statusline()
  local buf = slipway.logs()
  out.logLines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  out.status = slipway.status()

  -- A failed build, with the builder its project.toml names: the error lines in the quickfix list.
  vim.fn.writefile({ "[_]", 'schema-version = "0.2"', "[io.buildpacks]", 'builder = "failing"' }, env.BAD_APP .. "/project.toml")
  vim.cmd("cd " .. env.BAD_APP)
  vim.cmd("SlipwayBuild bad")
  wait_built("bad")
  out.badState = slipway.state("bad").state
  out.quickfix = {}
  for _, item in ipairs(vim.fn.getqflist()) do table.insert(out.quickfix, item.text) end
  out.quickfixTitle = vim.fn.getqflist({ title = 1 }).title
end)
out.ok = ok
if not ok then out.error = tostring(err) end
out.messages = messages
local f = io.open(env.OUT, "w")
f:write(vim.fn.json_encode(out))
f:close()
vim.cmd("qa!")
