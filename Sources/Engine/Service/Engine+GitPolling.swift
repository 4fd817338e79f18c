import SlipwayProtocol
import BuildRuntime
import Foundation

