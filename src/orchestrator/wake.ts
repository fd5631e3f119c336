/**
 * The channel intake, operator actions and callbacks NOTIFY when a task becomes claimable
 * (payload: the task id), and claims and releases NOTIFY with `due:<ms>` when timed work is due
 * at that time (a lease that may lapse, a retry). Kept in the store, which sends some of them.
 */
export { WAKE_CHANNEL } from '../store/wake-channel.js';
