import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { round, sleep } from './load.js'

/**
 * Where the machine's CPU went during a phase, in cores (1.0 = one core busy all the time). On a
 * two-core machine the validator and this load generator compete for the same cores, and anything
 * else running (a test suite, a build) shows up as `otherCores` and makes the phase unreliable.
 */
export interface CpuUse {
  readonly validatorCores: number | null
  readonly benchCores: number
  readonly otherCores: number
}

interface Snapshot {
  readonly at: number
  readonly machineBusyMs: number
  readonly benchMs: number
  readonly childMs: number | null
}

// Linux reports process times in clock ticks; USER_HZ is 100 on every mainstream kernel config.
const TICKS_PER_SECOND = 100

/** CPU time of another process from /proc (Linux only; null elsewhere or once it has exited). */
export function processMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    // After "pid (comm) ", utime and stime are the 12th and 13th fields.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND
  } catch {
    return null
  }
}

function snapshot(childPid: number | undefined): Snapshot {
  const machineBusyMs = cpus().reduce((n, c) => n + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0)
  const self = process.cpuUsage()
  return {
    at: performance.now(),
    machineBusyMs,
    benchMs: (self.user + self.system) / 1000,
    childMs: childPid === undefined ? null : processMs(childPid),
  }
}

/** Runs `work` and reports how busy the bench, the validator (`childPid`) and everything else were. */
export async function withCpu<T>(childPid: number | undefined, work: () => T | Promise<T>): Promise<{ result: T; cpu: CpuUse }> {
  const start = snapshot(childPid)
  const result = await work()
  const end = snapshot(childPid)
  const ms = end.at - start.at
  const validatorMs = start.childMs === null || end.childMs === null ? null : end.childMs - start.childMs
  const benchMs = end.benchMs - start.benchMs
  const otherMs = Math.max(0, end.machineBusyMs - start.machineBusyMs - benchMs - (validatorMs ?? 0))
  return {
    result,
    cpu: {
      validatorCores: validatorMs === null ? null : round(validatorMs / ms, 2),
      benchCores: round(benchMs / ms, 2),
      otherCores: round(otherMs / ms, 2),
    },
  }
}

/** Cores kept busy by other processes over `ms`, measured before the bench loads the machine. */
export async function backgroundCores(ms: number): Promise<number> {
  return (await withCpu(undefined, () => sleep(ms))).cpu.otherCores
}
