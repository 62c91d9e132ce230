--- nn.ConvTranspose2d: the gradient of a Conv2d with respect to its input
-- as a layer ("deconvolution"), through F.conv_transpose2d. weight is
-- (in_channels, out_channels/groups, kh, kw), bias (out_channels).
-- @usage local up = nn.ConvTranspose2d(16, 8, 3, {stride = 2, padding = 1, output_padding = 1})
-- local y = up(x, {h * 2, w * 2})     -- or ask for an output size
local check = require "luann.utils.check"
local ConvNd = require "luann.nn.ConvNd"
local F = require "luann.nn.functional"

local ConvTranspose2d = ConvNd:extend("ConvTranspose2d")
ConvTranspose2d.nd = 2
ConvTranspose2d.transposed = true
ConvTranspose2d.positional = { "stride", "padding", "output_padding", "groups", "bias",
  "dilation", "padding_mode" }

-- The output_padding that gives output_size {h, w} (PyTorch's
-- _output_padding): each size within stride - 1 above the smallest.
local function output_padding_for(self, x, size)
  local fname = "nn.ConvTranspose2d"
  if type(size) ~= "table" or (rawlen(size) ~= 2 and rawlen(size) ~= x:dim()) then
    check.error(fname .. ": output_size must be a list of 2 numbers (or of the output's dims)", 2)
  end
  local out = {}
  for i = 1, 2 do
    local want = size[rawlen(size) - 2 + i]
    local n = x:size(x:dim() - 2 + i)
    local least = (n - 1) * self.stride[i] - 2 * self.padding[i]
      + self.dilation[i] * (self.kernel_size[i] - 1) + 1
    local most = least + self.stride[i] - 1
    if type(want) ~= "number" or want < least or want > most then
      check.error(string.format("%s: requested an output size of %s, but valid sizes range from "
        .. "%d to %d (for an input of %s)", fname, tostring(want), least, most,
        check.shape_str(x)), 2)
    end
    out[i] = want - least
  end
  return out
end

--- @param x (N, C_in, H, W) or (C_in, H, W)
-- @param output_size optional {H_out, W_out}: picks output_padding
-- @return (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
function ConvTranspose2d:forward(x, output_size)
  local op = self.output_padding
  if output_size ~= nil then
    check.tensor("nn.ConvTranspose2d", 1, x, "input")
    op = output_padding_for(self, x, output_size)
  end
  return F.conv_transpose2d(x, self.weight, self.bias, { stride = self.stride,
    padding = self.padding, output_padding = op, groups = self.groups,
    dilation = self.dilation })
end

return ConvTranspose2d
