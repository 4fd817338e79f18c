import BuildRuntime
import Foundation
import SlipwayProtocol

