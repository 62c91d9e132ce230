-- spec/support/mpi_skip.lua MODE: two ranks under mpirun, rank 2 skipping
-- an all_reduce as uneven batches would make it (distributed_spec.lua runs
-- this), with a deadline of 1 s. MODE "barrier": rank 2 goes on to a
-- barrier, and both ranks fail at once naming each other's call. MODE
-- "gone": rank 2 goes on without MPI for 60 s; rank 1 times out and
-- MPI_Abort ends both.
local luann = require "luann"
local dist = luann.distributed
local mode = ...
dist.init({ timeout = 1 })
dist.barrier() -- collective #1
local t = luann.ones(4)
if dist.rank == 1 then
  dist.all_reduce(t) -- #2
elseif mode == "barrier" then
  dist.barrier() -- #2, but not rank 1's
else
  os.execute("sleep 60")
end
print("rank " .. dist.rank .. " went on")
