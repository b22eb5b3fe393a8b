import Dispatch
import OmniZipCore

extension StreamingCompression: PumpedStream {}

/// The worker side of the loop: it carries out the scheduler's starts on the pool and brings
/// the pool's completions back into it. The rules are JobScheduler's; this is only the shell.
extension ServerLoop {
    func carryOut(_ starts: [Scheduler.Start]) {
        for start in starts {
            switch start {
            case let .job(_, work):
                let token = LoopBound(value: work.exchange), job = work.job
                let compressor = compressor, completions = completions!
                jobQueue.async {
                    ThreadPriority.lower(to: ServerLoop.workerNiceness)
                    let outcome = job.run(compressor)
                    completions.post(.finished(token, outcome))
                }
            case let .pump(stream):
                let completions = completions!, demand = jobsWaiting
                jobQueue.async {
                    ThreadPriority.lower(to: ServerLoop.workerNiceness)
                    stream.runReadyUnits { demand.count.load(ordering: .relaxed) > 0 }
                    completions.post(.pumped(stream))
                }
            }
        }
        queueChanged()
    }

    func drainCompletions() {
        for item in completions.take() {
            switch item {
            case let .finished(token, outcome): jobFinished(token.value, outcome)
            case let .pumped(stream): carryOut(scheduler.pumpFinished(stream))
            case let .drain(ack):
                beginDrain()
                ack?.signal()
            }
        }
        maybeFinish()
    }

    private func jobFinished(_ exchange: Exchange, _ outcome: JobOutcome) {
        assertOnLoopThread()
        let (abandoned, starts) = scheduler.jobFinished(ObjectIdentifier(exchange))
        exchange.body = nil
        workDone(exchange)
        exchange.outcome = RequestLog.Outcome(counts: outcome.counts, phases: outcome.phases)
        if let counts = outcome.counts { metrics.tokens(counts) }
        metrics.phases(outcome.phases)
        if abandoned {
            abandon(exchange)
        } else {
            exchange.respond(outcome.response)
            exchange.owner?.afterEvent()
        }
        carryOut(starts)
    }

    /// Pumps yield to waiting jobs; the gauge shows them.
    func queueChanged() {
        jobsWaiting.count.store(scheduler.waiting, ordering: .relaxed)
        metrics.setQueued(scheduler.waiting)
    }
}
